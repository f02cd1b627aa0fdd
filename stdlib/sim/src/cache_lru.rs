//! A set-associative, write-back, write-allocate cache with least-recently-used
//! replacement, counting hits, misses and dirty evictions of a stream of line
//! addresses. It owns the replacement state only: it never decides what the
//! stream is (`l2_stream`) or what an access costs (`nvm`).

/// The shape of a cache: `sets × ways` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub sets: usize,
    pub ways: usize,
}

impl Geometry {
    /// The largest whole number of sets of `ways` lines of `line_bytes` in
    /// `capacity_bytes` (at least one set).
    pub fn of_capacity(capacity_bytes: f64, line_bytes: f64, ways: usize) -> Geometry {
        let lines = (capacity_bytes / line_bytes).floor().max(1.0) as usize;
        Geometry {
            sets: (lines / ways.max(1)).max(1),
            ways: ways.max(1),
        }
    }
}

/// What happened to one access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub hit: bool,
    /// A dirty line was evicted to make room (one line written back to DRAM).
    pub writeback: bool,
}

/// Accesses and their outcomes over a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub reads: f64,
    pub writes: f64,
    pub read_misses: f64,
    pub write_misses: f64,
    pub writebacks: f64,
}

impl Counts {
    pub fn record(&mut self, write: bool, outcome: Outcome) {
        let miss = if outcome.hit { 0.0 } else { 1.0 };
        if write {
            self.writes += 1.0;
            self.write_misses += miss;
        } else {
            self.reads += 1.0;
            self.read_misses += miss;
        }
        if outcome.writeback {
            self.writebacks += 1.0;
        }
    }

    /// Every count times `factor` (a sampled simulation scaled to the full stream).
    pub fn scaled(self, factor: f64) -> Counts {
        Counts {
            reads: self.reads * factor,
            writes: self.writes * factor,
            read_misses: self.read_misses * factor,
            write_misses: self.write_misses * factor,
            writebacks: self.writebacks * factor,
        }
    }
}

const EMPTY: u64 = u64::MAX;

/// The replacement state: per way its line, last use and dirtiness.
#[derive(Debug, Clone)]
pub struct LruCache {
    geometry: Geometry,
    lines: Vec<u64>,
    last_use: Vec<u64>,
    dirty: Vec<bool>,
    clock: u64,
}

impl LruCache {
    pub fn new(geometry: Geometry) -> LruCache {
        let n = geometry.sets * geometry.ways;
        LruCache {
            geometry,
            lines: vec![EMPTY; n],
            last_use: vec![0; n],
            dirty: vec![false; n],
            clock: 0,
        }
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The set a line maps to (line number modulo the number of sets).
    pub fn set_of(&self, line: u64) -> usize {
        (line % self.geometry.sets as u64) as usize
    }

    /// Reads or writes one line. A miss fills the line, evicting the least
    /// recently used way of its set (an empty way first); a write marks it dirty.
    pub fn access(&mut self, line: u64, write: bool) -> Outcome {
        self.clock += 1;
        let start = self.set_of(line) * self.geometry.ways;
        let ways = start..start + self.geometry.ways;
        if let Some(i) = ways.clone().find(|&i| self.lines[i] == line) {
            self.last_use[i] = self.clock;
            self.dirty[i] |= write;
            return Outcome {
                hit: true,
                writeback: false,
            };
        }
        let victim = ways
            .min_by_key(|&i| (self.lines[i] != EMPTY, self.last_use[i]))
            .unwrap_or(start);
        let writeback = self.lines[victim] != EMPTY && self.dirty[victim];
        self.lines[victim] = line;
        self.last_use[victim] = self.clock;
        self.dirty[victim] = write;
        Outcome {
            hit: false,
            writeback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Counts, Geometry, LruCache};

    /// 2 ways × 4 sets: lines 0, 4, 8 share set 0. Worked by hand:
    /// 0 miss, 4 miss, 0 hit, 8 miss (evicts 4, the older), 4 miss (evicts 0),
    /// 1 miss (set 1), 8 hit, 0 miss (evicts 4), write 5 miss (set 1),
    /// write 9 miss (set 1: evicts 1, clean), write 13 miss (evicts dirty 5).
    #[test]
    fn two_way_four_set_lru_by_hand() {
        let mut cache = LruCache::new(Geometry { sets: 4, ways: 2 });
        let stream = [
            (0, false),
            (4, false),
            (0, false),
            (8, false),
            (4, false),
            (1, false),
            (8, false),
            (0, false),
            (5, true),
            (9, true),
            (13, true),
        ];
        let hits: Vec<bool> = stream
            .iter()
            .map(|&(line, write)| cache.access(line, write).hit)
            .collect();
        assert_eq!(
            hits,
            [false, false, true, false, false, false, true, false, false, false, false]
        );
        let mut cache = LruCache::new(Geometry { sets: 4, ways: 2 });
        let mut counts = Counts::default();
        for &(line, write) in &stream {
            counts.record(write, cache.access(line, write));
        }
        assert_eq!(
            counts,
            Counts {
                reads: 8.0,
                writes: 3.0,
                read_misses: 6.0,
                write_misses: 3.0,
                writebacks: 1.0,
            }
        );
    }

    #[test]
    fn geometry_rounds_down_to_whole_sets() {
        let g = Geometry::of_capacity(3.0 * 1024.0 * 1024.0, 64.0, 16);
        assert_eq!((g.sets, g.ways), (3072, 16));
        assert_eq!(Geometry::of_capacity(10.0, 64.0, 16).sets, 1);
    }
}
