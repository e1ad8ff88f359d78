//! Writing weights as `.safetensors`, which PyTorch and NumPy load directly:
//!
//! ```python
//! from safetensors.torch import load_file      # or safetensors.numpy
//! state = load_file("runs/NAME/weights.safetensors")
//! model.load_state_dict(state)  # keys fc1.weight, fc1.bias, ...; weight shape (out, in)
//! ```
//!
//! Format: an 8-byte little-endian header length, a JSON header (tensor name -> dtype, shape,
//! byte offsets; padded with spaces to a multiple of 8), then the tensors' little-endian
//! bytes. Keys are written in a fixed order and nothing time-dependent goes in, so the same
//! weights always give the same file (and SHA-256).

use std::io::Write;

use ibci_kernels::Mat;
use ibci_nn::Mlp;

/// One tensor: name, shape, row-major f32 data.
pub struct Tensor<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: &'a [f32],
}

/// The whole file as bytes.
pub fn encode(tensors: &[Tensor<'_>], metadata: &[(&str, String)]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut offset = 0usize;
    for t in tensors {
        let bytes = 4 * t.data.len();
        let shape: Vec<String> = t.shape.iter().map(usize::to_string).collect();
        header.push_str(&format!(
            "{}:{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{},{}]}},",
            serde_json::Value::String(t.name.clone()),
            shape.join(","),
            offset,
            offset + bytes
        ));
        offset += bytes;
    }
    let meta: serde_json::Map<String, serde_json::Value> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
        .collect();
    header.push_str(&format!(
        "\"__metadata__\":{}}}",
        serde_json::Value::Object(meta)
    ));
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for t in tensors {
        for v in t.data {
            out.write_all(&v.to_le_bytes()).expect("writing to a Vec");
        }
    }
    out
}

/// The network as safetensors, PyTorch layout: `fc{l}.weight` is `(out, in)`.
pub fn encode_weights(mlp: &Mlp) -> Vec<u8> {
    let transposed: Vec<Mat> = mlp
        .layers
        .iter()
        .map(|l| l.w.as_ref().t().to_mat())
        .collect();
    let mut tensors = Vec::new();
    for (l, (layer, wt)) in mlp.layers.iter().zip(&transposed).enumerate() {
        tensors.push(Tensor {
            name: format!("fc{}.weight", l + 1),
            shape: vec![wt.rows(), wt.cols()],
            data: wt.as_slice(),
        });
        tensors.push(Tensor {
            name: format!("fc{}.bias", l + 1),
            shape: vec![layer.b.len()],
            data: &layer.b,
        });
    }
    encode(&tensors, &[("format", "pt".to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_format() {
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [0.5f32, -0.5];
        let bytes = encode(
            &[
                Tensor {
                    name: "fc1.weight".into(),
                    shape: vec![2, 3],
                    data: &a,
                },
                Tensor {
                    name: "fc1.bias".into(),
                    shape: vec![2],
                    data: &b,
                },
            ],
            &[("format", "pt".into())],
        );
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        assert_eq!(header["fc1.weight"]["shape"], serde_json::json!([2, 3]));
        assert_eq!(
            header["fc1.bias"]["data_offsets"],
            serde_json::json!([24, 32])
        );
        assert_eq!(header["__metadata__"]["format"], "pt");
        let data = &bytes[8 + n..];
        assert_eq!(data.len(), 32);
        assert_eq!(f32::from_le_bytes(data[20..24].try_into().unwrap()), 6.0);
        assert_eq!(f32::from_le_bytes(data[28..32].try_into().unwrap()), -0.5);
    }
}
