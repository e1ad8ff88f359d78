//! Pixel conversion, kept outside the parser: u8 intensities to f32 in [0, 1].
//!
//! `x / 255` exactly as torchvision's `ToTensor()` computes it (`img.float().div(255)`), so a
//! loaded image is bit-identical to what the reference PyTorch code feeds its network.
//! Elementwise and without reductions, so the result does not depend on the thread count.

use rayon::prelude::*;

/// Converts u8 intensities to f32 in [0, 1] (`x as f32 / 255.0`, correctly rounded).
pub fn to_unit_f32(pixels: &[u8]) -> Vec<f32> {
    let mut out = vec![0f32; pixels.len()];
    to_unit_f32_into(pixels, &mut out);
    out
}

/// As [`to_unit_f32`], into a caller's buffer.
///
/// # Panics
/// If `out.len() != pixels.len()`.
#[track_caller]
pub fn to_unit_f32_into(pixels: &[u8], out: &mut [f32]) {
    assert_eq!(
        out.len(),
        pixels.len(),
        "to_unit_f32_into: output length must equal input length"
    );
    const CHUNK: usize = 1 << 16;
    out.par_chunks_mut(CHUNK)
        .zip(pixels.par_chunks(CHUNK))
        .for_each(|(o, p)| {
            for (o, &p) in o.iter_mut().zip(p) {
                *o = f32::from(p) / 255.0;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_intensity_is_correctly_rounded() {
        let all: Vec<u8> = (0..=255).collect();
        let f = to_unit_f32(&all);
        assert_eq!(f[0], 0.0);
        assert_eq!(f[255], 1.0);
        for (i, &v) in f.iter().enumerate() {
            // f32 division is correctly rounded, so it must equal i/255 computed in f64 and
            // rounded once to f32 (i/255 is never near an f32 rounding midpoint).
            assert_eq!(v, (i as f64 / 255.0) as f32, "intensity {i}");
        }
    }
}
