//! The phone that `sim.thermal` simulates: its DVFS operating points
//! (frequency, voltage), its thermal zone's trip points (temperature, frequency
//! cap), its lumped thermal RC (one node, or die and board when the table gives
//! the board's constants) and its power constants, read from a
//! `kind,key,value` table (`data/thermal_exynos5433.csv` is the shipped one,
//! with every constant's source in its comments). It only describes the phone:
//! the time stepping lives in `thermal.rs`, the app-side policy in
//! `governor.rs`, which must never read this.

use crate::csv::{CsvRow, CsvTable};
use crate::error::SimError;

/// The shipped phone: the Exynos 5433's A57 cluster, from mainline Linux's device tree.
pub const DEFAULT_SOC_CSV: &str = include_str!("../data/thermal_exynos5433.csv");

/// One DVFS operating point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Opp {
    pub freq_hz: f64,
    pub volt_v: f64,
}

/// One trip point: while the zone is at or above `temp_c` the clock is capped at `cap_hz`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trip {
    pub temp_c: f64,
    pub cap_hz: f64,
}

/// A second thermal node between the die and the room (the board or package):
/// heat flows die → board through the die's `r_k_per_w`, board → room through
/// this `r_k_per_w`. A die that jumps within seconds and then creeps for minutes
/// needs it; one node has a single time constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Board {
    /// Board-to-ambient thermal resistance, K/W.
    pub r_k_per_w: f64,
    /// The board's thermal capacitance, J/K.
    pub c_j_per_k: f64,
}

/// The phone: thermal RC, DVFS table, trip points, power and workload rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Soc {
    pub ambient_c: f64,
    /// Die-to-ambient thermal resistance (die-to-board with a `board`), K/W.
    pub r_k_per_w: f64,
    /// The die's thermal capacitance (the whole phone's without a `board`), J/K.
    pub c_j_per_k: f64,
    /// The second node, when the table gives one.
    pub board: Option<Board>,
    /// Operating points, ascending frequency.
    pub opps: Vec<Opp>,
    /// Trip points, ascending temperature.
    pub trips: Vec<Trip>,
    /// A trip is released this far below its temperature.
    pub hysteresis_c: f64,
    /// Switched capacitance of the fully active cluster, farads: `P_dyn = c_eff·V²·f`.
    pub c_eff_f: f64,
    /// Share of `c_eff_f` switched whatever the model runs (clock tree, caches).
    pub base_share: f64,
    /// Power while no inference runs (leakage and the rest of the SoC).
    pub p_idle_w: f64,
    pub flops_per_cycle: f64,
    /// Inference requests per second.
    pub fps: f64,
}

/// The constants a table must give, by the name of their `constant` row.
const CONSTANTS: [&str; 7] = [
    "hysteresis_c",
    "resistance_k_per_w",
    "capacitance_j_per_k",
    "c_eff_nf",
    "base_share",
    "idle_w",
    "flops_per_cycle",
];

/// The constants of the optional second node: both or neither.
const BOARD_CONSTANTS: [&str; 2] = ["board_resistance_k_per_w", "board_capacitance_j_per_k"];

impl Soc {
    /// The shipped phone (Exynos 5433) in a 25 °C room at 30 requests per second.
    pub fn default_table() -> Result<Soc, SimError> {
        Soc::parse("built-in thermal_exynos5433.csv", DEFAULT_SOC_CSV)
    }

    pub fn read(path: &std::path::Path) -> Result<Soc, SimError> {
        Soc::from_csv(&CsvTable::read(path)?)
    }

    pub fn parse(source: &str, text: &str) -> Result<Soc, SimError> {
        Soc::from_csv(&CsvTable::parse(source, text)?)
    }

    fn from_csv(t: &CsvTable) -> Result<Soc, SimError> {
        let [kind, key, value] = t.columns(["kind", "key", "value"])?;
        let (mut opps, mut trips) = (Vec::new(), Vec::new());
        let mut constants = [f64::NAN; CONSTANTS.len()];
        let mut board = [f64::NAN; BOARD_CONSTANTS.len()];
        for row in &t.rows {
            match t.text(row, kind)? {
                "opp" => opps.push(Opp {
                    freq_hz: t.positive(row, key)? * 1e6,
                    volt_v: t.positive(row, value)? * 1e-6,
                }),
                "trip" => trips.push(Trip {
                    temp_c: t.number(row, key)?,
                    cap_hz: t.positive(row, value)? * 1e6,
                }),
                "constant" => {
                    let name = t.text(row, key)?;
                    let slot = constant_slot(&mut constants, &mut board, name)
                        .ok_or_else(|| unknown_constant(t, row, name))?;
                    *slot = t.non_negative(row, value)?;
                }
                other => return Err(unknown_kind(t, row, other)),
            }
        }
        if let Some(i) = constants.iter().position(|c| c.is_nan()) {
            return Err(SimError::table(
                &t.source,
                format!(
                    "no `constant,{},...` row; every one of {} is needed",
                    CONSTANTS[i],
                    CONSTANTS.join(", ")
                ),
            ));
        }
        let [hysteresis_c, r_k_per_w, c_j_per_k, c_eff_nf, base_share, p_idle_w, flops_per_cycle] =
            constants;
        let soc = Soc {
            ambient_c: 25.0,
            r_k_per_w,
            c_j_per_k,
            board: board_node(t, board)?,
            opps,
            trips,
            hysteresis_c,
            c_eff_f: c_eff_nf * 1e-9,
            base_share,
            p_idle_w,
            flops_per_cycle,
            fps: 30.0,
        };
        soc.check_tables()
            .map_err(|m| SimError::table(&t.source, m))?;
        Ok(soc)
    }

    /// The DVFS and trip tables' own consistency, as a message naming what is wrong.
    pub fn check_tables(&self) -> Result<(), String> {
        if self.opps.is_empty() {
            return Err("no `opp` row: list at least one operating point (MHz, microvolts)".into());
        }
        if self.opps.windows(2).any(|w| w[1].freq_hz <= w[0].freq_hz) {
            return Err("`opp` rows must be in ascending frequency".into());
        }
        if self.trips.windows(2).any(|w| w[1].temp_c <= w[0].temp_c) {
            return Err("`trip` rows must be in ascending temperature".into());
        }
        if !(0.0..=1.0).contains(&self.base_share) {
            return Err(format!(
                "`base_share` is {}; it must be between 0 and 1",
                self.base_share
            ));
        }
        Ok(())
    }

    pub fn top_freq_hz(&self) -> f64 {
        self.opps.last().map_or(0.0, |o| o.freq_hz)
    }

    /// The lowest trip temperature (what a phone's thermal zone shows as
    /// `trip_point_0_temp`); infinite without trips.
    pub fn first_trip_c(&self) -> f64 {
        self.trips.first().map_or(f64::INFINITY, |t| t.temp_c)
    }

    /// Dynamic power of the fully busy cluster at operating point `level` for a
    /// model of `activity` (its achieved FLOPs rate over the largest model's).
    pub fn busy_power_w(&self, level: usize, activity: f64) -> f64 {
        let opp = self.opps[level];
        let switched = self.c_eff_f * (self.base_share + (1.0 - self.base_share) * activity);
        switched * opp.volt_v * opp.volt_v * opp.freq_hz
    }
}

/// Where the value of constant `name` goes: a required constant or a board one.
fn constant_slot<'a>(
    constants: &'a mut [f64; CONSTANTS.len()],
    board: &'a mut [f64; BOARD_CONSTANTS.len()],
    name: &str,
) -> Option<&'a mut f64> {
    if let Some(i) = CONSTANTS.iter().position(|c| *c == name) {
        return Some(&mut constants[i]);
    }
    let i = BOARD_CONSTANTS.iter().position(|c| *c == name)?;
    Some(&mut board[i])
}

fn unknown_constant(t: &CsvTable, row: &CsvRow, name: &str) -> SimError {
    t.row_error(
        row,
        format!(
            "unknown constant `{name}`; known: {}, and optionally {}",
            CONSTANTS.join(", "),
            BOARD_CONSTANTS.join(", ")
        ),
    )
}

/// The second node from its two constants: none given is one node, one alone is an error.
fn board_node(t: &CsvTable, board: [f64; 2]) -> Result<Option<Board>, SimError> {
    match board {
        [r, c] if r.is_nan() && c.is_nan() => Ok(None),
        [r, c] if r.is_nan() || c.is_nan() => Err(SimError::table(
            &t.source,
            format!(
                "a board node needs both `constant,{},...` and `constant,{},...` rows, or neither",
                BOARD_CONSTANTS[0], BOARD_CONSTANTS[1]
            ),
        )),
        [r_k_per_w, c_j_per_k] => Ok(Some(Board {
            r_k_per_w,
            c_j_per_k,
        })),
    }
}

fn unknown_kind(t: &CsvTable, row: &CsvRow, kind: &str) -> SimError {
    t.row_error(
        row,
        format!("kind `{kind}` is not one of `opp` (MHz, microvolts), `trip` (degC, cap MHz), `constant` (name, value)"),
    )
}
