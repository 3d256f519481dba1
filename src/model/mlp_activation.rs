//! The nonlinearity of the byte GPT's MLP.

use burn::tensor::{Tensor, activation};
use serde::{Deserialize, Serialize};

/// The MLP's nonlinearity. Checkpoints written before the choice existed all used GELU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Exact GELU, `x · Φ(x)` with `Φ` through `erf` (on flex: `erf_gelu`).
    #[default]
    Gelu,
    /// Squared ReLU, `max(x, 0)²` (So et al. 2021, "Primer"): no transcendental function, so
    /// it costs the same early and late in training, where `erf` takes slower branches on
    /// larger pre-activations.
    Relu2,
}

impl Activation {
    pub fn parse(name: &str) -> Self {
        match name {
            "relu2" => Activation::Relu2,
            _ => Activation::Gelu,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Gelu => "gelu",
            Activation::Relu2 => "relu2",
        }
    }

    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Gelu => super::kernels::erf_gelu::forward(x),
            Activation::Relu2 => activation::relu(x).powi_scalar(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn apply(a: Activation, xs: &[f32]) -> Vec<f32> {
        let device = Device::flex();
        let x = Tensor::<1>::from_data(TensorData::new(xs.to_vec(), [xs.len()]), &device);
        crate::model::to_vec(a.forward(x))
    }

    #[test]
    fn relu2_squares_the_positive_part() {
        // max(x, 0)^2 by hand: -2 -> 0, -0.5 -> 0, 0 -> 0, 0.5 -> 0.25, 3 -> 9.
        let got = apply(Activation::Relu2, &[-2.0, -0.5, 0.0, 0.5, 3.0]);
        assert_eq!(got, vec![0.0, 0.0, 0.0, 0.25, 9.0]);
    }

    #[test]
    fn gelu_is_x_times_the_normal_cdf() {
        // Phi(1) = 0.8413447, Phi(-1) = 0.1586553, Phi(2) = 0.9772499 (normal tables).
        let got = apply(Activation::Gelu, &[1.0, -1.0, 2.0, 0.0]);
        let want = [0.8413447, -0.1586553, 1.9544998, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
    }

    #[test]
    fn relu2_gradient_is_twice_the_positive_part() {
        // d/dx max(x,0)^2 = 2 max(x,0): at -1 -> 0, at 0.5 -> 1, at 2 -> 4.
        let device = Device::flex().autodiff();
        let x = Tensor::<1>::from_data(TensorData::new(vec![-1.0f32, 0.5, 2.0], [3]), &device)
            .require_grad();
        let grads = Activation::Relu2.forward(x.clone()).sum().backward();
        let g = crate::model::to_vec(x.grad(&grads).unwrap());
        assert_eq!(g, vec![0.0, 1.0, 4.0]);
    }

    #[test]
    fn shapes_of_earlier_checkpoints_are_gelu() {
        let old = r#"{"vocab":259,"d_model":128,"n_layers":4,"n_heads":4,"max_len":160,"mlp_ratio":4,"positions":"rope"}"#;
        let shape: crate::model::GptShape = serde_json::from_str(old).unwrap();
        assert_eq!(shape.activation, Activation::Gelu);
        let new = serde_json::to_string(&crate::model::GptShape {
            activation: Activation::Relu2,
            ..shape
        })
        .unwrap();
        assert!(new.contains(r#""activation":"relu2""#), "{new}");
    }

    #[test]
    fn names_round_trip() {
        for a in [Activation::Gelu, Activation::Relu2] {
            assert_eq!(Activation::parse(a.name()), a);
        }
    }
}
