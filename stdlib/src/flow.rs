//! Dense optical flow between two frames: pyramidal, iterative Lucas-Kanade
//! (Lucas & Kanade 1981; the coarse-to-fine scheme of Bouguet 2001), in its
//! dense form: at each pyramid level the second frame is warped by the current
//! flow, and every pixel solves the 2×2 normal equations of the brightness
//! constancy residual summed over a Gaussian window, with a small Tikhonov term
//! so flat regions keep the flow propagated from the coarser level. Also
//! `warp_box`, which moves a box by the flow inside it (SSVOD's warping of a
//! neighbour's detections). Pure computation: no files, no models.

use crate::detection::Rect;

/// Largest flow change of one Lucas-Kanade step, in pixels of the level.
const MAX_STEP: f32 = 1.0;

/// Flow settings. The defaults are the project's own (not from a paper),
/// chosen on `dataset.moving_shapes` (see docs/detection.md for the error).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowParams {
    /// Pyramid levels (1 = full resolution only); each halves the frame.
    pub levels: usize,
    /// Standard deviation in pixels of the Gaussian window the equations sum over.
    pub window_sigma: f32,
    /// Linearise-and-solve steps per level.
    pub iterations: usize,
    /// Added to the diagonal of the 2×2 system (units of squared intensity
    /// gradient): the smallest structure that moves the flow.
    pub regularization: f32,
    /// Standard deviation in pixels of the Gaussian blur applied to both frames
    /// first (sensor noise would otherwise dominate the gradients); 0 = none.
    pub presmooth: f32,
    /// Radius of the median filter applied to the flow after each level
    /// (0 = none): removes the halo of object motion a window spreads onto
    /// the still background next to it.
    pub median: usize,
}

impl Default for FlowParams {
    fn default() -> Self {
        FlowParams {
            levels: 2,
            window_sigma: 2.5,
            iterations: 3,
            regularization: 1e-3,
            presmooth: 0.0,
            median: 3,
        }
    }
}

/// A flow field: for each pixel of the first frame, its displacement in pixels
/// to the second frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub width: usize,
    pub height: usize,
    /// `height * width`, row-major.
    pub dx: Vec<f32>,
    pub dy: Vec<f32>,
}

impl Flow {
    fn zeros(width: usize, height: usize) -> Flow {
        Flow {
            width,
            height,
            dx: vec![0.0; width * height],
            dy: vec![0.0; width * height],
        }
    }

    /// Mean endpoint error against a reference field laid out like `VideoSet`
    /// motion (the dx plane, then the dy plane).
    pub fn endpoint_error(&self, truth: &[f32]) -> f32 {
        let n = self.width * self.height;
        let sum: f32 = (0..n)
            .map(|i| (self.dx[i] - truth[i]).hypot(self.dy[i] - truth[n + i]))
            .sum();
        sum / n.max(1) as f32
    }
}

/// A single-channel image.
#[derive(Clone)]
struct Plane {
    width: usize,
    height: usize,
    v: Vec<f32>,
}

impl Plane {
    fn at(&self, x: isize, y: isize) -> f32 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.v[y * self.width + x]
    }

    /// Bilinear sample with the border repeated.
    fn sample(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x.floor(), y.floor());
        let (ax, ay) = (x - fx, y - fy);
        let (ix, iy) = (fx as isize, fy as isize);
        let top = self.at(ix, iy) * (1.0 - ax) + self.at(ix + 1, iy) * ax;
        let bottom = self.at(ix, iy + 1) * (1.0 - ax) + self.at(ix + 1, iy + 1) * ax;
        top * (1.0 - ay) + bottom * ay
    }

    /// Blur with [1 4 6 4 1]/16 and keep every other pixel.
    fn downsample(&self) -> Plane {
        let blurred = separable(
            self,
            &[1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0],
        );
        let (w, h) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut v = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                v.push(blurred.v[2 * y * self.width + 2 * x]);
            }
        }
        Plane {
            width: w,
            height: h,
            v,
        }
    }

    /// Central differences, one-sided at the border.
    fn gradient(&self) -> (Vec<f32>, Vec<f32>) {
        let mut gx = Vec::with_capacity(self.v.len());
        let mut gy = Vec::with_capacity(self.v.len());
        for y in 0..self.height as isize {
            for x in 0..self.width as isize {
                gx.push((self.at(x + 1, y) - self.at(x - 1, y)) * 0.5);
                gy.push((self.at(x, y + 1) - self.at(x, y - 1)) * 0.5);
            }
        }
        (gx, gy)
    }
}

/// Convolution with a symmetric odd kernel along x, then y; border repeated.
/// Rows are padded once and convolved as sliding windows; the column pass adds
/// whole shifted rows, so both loops run over contiguous memory.
fn separable(p: &Plane, kernel: &[f32]) -> Plane {
    let (w, h) = (p.width, p.height);
    let r = kernel.len() / 2;
    let mut tmp = Vec::with_capacity(w * h);
    let mut padded = Vec::with_capacity(w + 2 * r);
    for row in p.v.chunks_exact(w) {
        padded.clear();
        padded.extend(std::iter::repeat_n(row[0], r));
        padded.extend_from_slice(row);
        padded.extend(std::iter::repeat_n(row[w - 1], r));
        tmp.extend(
            padded
                .windows(kernel.len())
                .map(|win| win.iter().zip(kernel).map(|(a, k)| a * k).sum::<f32>()),
        );
    }
    let mut out = vec![0.0; w * h];
    for (y, out_row) in out.chunks_exact_mut(w).enumerate() {
        for (k, &weight) in kernel.iter().enumerate() {
            let src = (y + k).saturating_sub(r).min(h - 1);
            for (o, &v) in out_row.iter_mut().zip(&tmp[src * w..(src + 1) * w]) {
                *o += weight * v;
            }
        }
    }
    Plane { v: out, ..*p }
}

/// A normalised Gaussian kernel reaching 2.5 sigma.
fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let r = (2.5 * sigma).ceil().max(1.0) as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    k.into_iter().map(|v| v / sum).collect()
}

/// The mean over channels of a C×H×W frame.
fn grey(frame: &[f32], channels: usize, height: usize, width: usize) -> Plane {
    let n = height * width;
    let mut v = vec![0.0; n];
    for c in 0..channels {
        for (o, &p) in v.iter_mut().zip(&frame[c * n..(c + 1) * n]) {
            *o += p / channels as f32;
        }
    }
    Plane { width, height, v }
}

/// The flow from `prev` to `next`, both C×H×W frames of the same size.
pub fn estimate(
    prev: &[f32],
    next: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    params: &FlowParams,
) -> Flow {
    let smooth = |p: Plane| match params.presmooth > 0.0 {
        true => separable(&p, &gaussian_kernel(params.presmooth)),
        false => p,
    };
    let mut pyramid = vec![(
        smooth(grey(prev, channels, height, width)),
        smooth(grey(next, channels, height, width)),
    )];
    for _ in 1..params.levels.max(1) {
        let Some((a, b)) = pyramid.last() else { break };
        if a.width < 8 || a.height < 8 {
            break;
        }
        let down = (a.downsample(), b.downsample());
        pyramid.push(down);
    }
    let window = gaussian_kernel(params.window_sigma);
    let mut flow: Option<Flow> = None;
    for (a, b) in pyramid.iter().rev() {
        let mut f = match flow {
            Some(coarse) => upsample(&coarse, a.width, a.height),
            None => Flow::zeros(a.width, a.height),
        };
        for _ in 0..params.iterations {
            refine(a, b, &mut f, &window, params.regularization);
        }
        if params.median > 0 {
            f.dx = median_filter(&f.dx, f.width, f.height, params.median);
            f.dy = median_filter(&f.dy, f.width, f.height, params.median);
        }
        flow = Some(f);
    }
    flow.unwrap_or_else(|| Flow::zeros(width, height))
}

/// Each value replaced by the median of its (2r+1)² neighbourhood, clipped at
/// the border.
fn median_filter(v: &[f32], width: usize, height: usize, r: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.len());
    let mut window = Vec::with_capacity((2 * r + 1) * (2 * r + 1));
    for y in 0..height {
        for x in 0..width {
            window.clear();
            for yy in y.saturating_sub(r)..(y + r + 1).min(height) {
                window.extend_from_slice(
                    &v[yy * width + x.saturating_sub(r)..yy * width + (x + r + 1).min(width)],
                );
            }
            let mid = window.len() / 2;
            out.push(*window.select_nth_unstable_by(mid, f32::total_cmp).1);
        }
    }
    out
}

/// Twice the coarse flow, bilinearly resampled onto the finer grid.
fn upsample(coarse: &Flow, width: usize, height: usize) -> Flow {
    let dx = Plane {
        width: coarse.width,
        height: coarse.height,
        v: coarse.dx.clone(),
    };
    let dy = Plane {
        width: coarse.width,
        height: coarse.height,
        v: coarse.dy.clone(),
    };
    let mut f = Flow::zeros(width, height);
    for y in 0..height {
        for x in 0..width {
            // Pixel centres: fine (x + 0.5) sits at coarse (x + 0.5) / 2.
            let (cx, cy) = ((x as f32 + 0.5) * 0.5 - 0.5, (y as f32 + 0.5) * 0.5 - 0.5);
            f.dx[y * width + x] = 2.0 * dx.sample(cx, cy);
            f.dy[y * width + x] = 2.0 * dy.sample(cx, cy);
        }
    }
    f
}

/// One Lucas-Kanade step at one level: warp, linearise, solve per pixel.
fn refine(a: &Plane, b: &Plane, flow: &mut Flow, window: &[f32], regularization: f32) {
    let (w, h) = (a.width, a.height);
    let mut warped = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            warped.push(b.sample(x as f32 + flow.dx[i], y as f32 + flow.dy[i]));
        }
    }
    let warped = Plane {
        width: w,
        height: h,
        v: warped,
    };
    let (ax, ay) = a.gradient();
    let (bx, by) = warped.gradient();
    let n = w * h;
    // Products to sum over the window: gx², gx·gy, gy², gx·e, gy·e.
    let mut products: [Vec<f32>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
    for i in 0..n {
        let gx = 0.5 * (ax[i] + bx[i]);
        let gy = 0.5 * (ay[i] + by[i]);
        let e = a.v[i] - warped.v[i];
        for (p, v) in products
            .iter_mut()
            .zip([gx * gx, gx * gy, gy * gy, gx * e, gy * e])
        {
            p.push(v);
        }
    }
    let sums = products.map(|v| {
        separable(
            &Plane {
                width: w,
                height: h,
                v,
            },
            window,
        )
        .v
    });
    let steps = flow.dx.iter_mut().zip(flow.dy.iter_mut()).enumerate();
    for (i, (dx, dy)) in steps {
        let (a11, a12, a22) = (
            sums[0][i] + regularization,
            sums[1][i],
            sums[2][i] + regularization,
        );
        let det = a11 * a22 - a12 * a12;
        if det <= f32::MIN_POSITIVE {
            continue;
        }
        let (b1, b2) = (sums[3][i], sums[4][i]);
        // One step moves at most `MAX_STEP` pixels: a wrong linearisation far
        // from the solution must not throw the flow off the frame.
        *dx += ((a22 * b1 - a12 * b2) / det).clamp(-MAX_STEP, MAX_STEP);
        *dy += ((a11 * b2 - a12 * b1) / det).clamp(-MAX_STEP, MAX_STEP);
    }
}

/// The box moved by the mean flow over its central half (half its width and
/// height, around its centre), clipped to the flow field. The centre is used
/// because a box's border is mostly background, which does not move with the
/// object; this is the project's choice, docs/papers.md says only "mean flow inside
/// each box". A box entirely outside the field is returned unchanged.
pub fn warp_box(rect: &Rect, flow: &Flow) -> Rect {
    let (Some((x0, x1)), Some((y0, y1))) = (
        central_span(rect.x, rect.w, flow.width),
        central_span(rect.y, rect.h, flow.height),
    ) else {
        return *rect;
    };
    let (mut sx, mut sy) = (0.0f32, 0.0f32);
    for y in y0..y1 {
        for x in x0..x1 {
            sx += flow.dx[y * flow.width + x];
            sy += flow.dy[y * flow.width + x];
        }
    }
    let n = ((x1 - x0) * (y1 - y0)) as f32;
    Rect {
        x: rect.x + sx / n,
        y: rect.y + sy / n,
        ..*rect
    }
}

/// The pixels `[lo, hi)` of the central half of `[start, start + len)` within
/// `0..limit`: at least the pixel under the centre; `None` when that is outside.
fn central_span(start: f32, len: f32, limit: usize) -> Option<(usize, usize)> {
    let centre = start + len * 0.5;
    if !(0.0..limit as f32).contains(&centre) {
        return None;
    }
    let middle = centre as usize;
    let lo = ((centre - len * 0.25).floor().max(0.0) as usize).min(middle);
    let hi = ((centre + len * 0.25).ceil() as usize).clamp(middle + 1, limit);
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth random-looking texture shifted by (sx, sy) pixels.
    fn texture(w: usize, h: usize, sx: f32, sy: f32) -> Vec<f32> {
        let mut v = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (u, t) = (x as f32 - sx, y as f32 - sy);
                v.push(0.5 + 0.2 * (u * 0.31 + t * 0.17).sin() + 0.2 * (u * 0.13 - t * 0.37).cos());
            }
        }
        v
    }

    #[test]
    fn recovers_a_global_subpixel_translation() {
        let (a, b) = (texture(40, 32, 0.0, 0.0), texture(40, 32, 1.6, -0.7));
        let f = estimate(&a, &b, 1, 32, 40, &FlowParams::default());
        // Away from the border, where the shifted texture is not repeated.
        let mut err = 0.0;
        let mut n = 0.0;
        for y in 6..26 {
            for x in 6..34 {
                let i = y * 40 + x;
                err += (f.dx[i] - 1.6).hypot(f.dy[i] + 0.7);
                n += 1.0;
            }
        }
        assert!(err / n < 0.05, "mean endpoint error {}", err / n);
    }

    #[test]
    fn warp_box_moves_by_the_flow_inside_it() {
        let mut f = Flow::zeros(10, 10);
        for y in 2..6 {
            for x in 2..6 {
                f.dx[y * 10 + x] = 2.0;
                f.dy[y * 10 + x] = -1.0;
            }
        }
        let r = Rect {
            x: 2.0,
            y: 2.0,
            w: 4.0,
            h: 4.0,
        };
        assert_eq!(
            warp_box(&r, &f),
            Rect {
                x: 4.0,
                y: 1.0,
                w: 4.0,
                h: 4.0
            }
        );
        let outside = Rect {
            x: -9.0,
            y: 0.0,
            w: 2.0,
            h: 2.0,
        };
        assert_eq!(warp_box(&outside, &f), outside);
    }
}
