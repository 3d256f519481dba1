//! A seed gives one set of initial weights, whatever code reads which parameter first. Burn
//! draws a lazily initialised parameter when it is first read, so without `init_gpt` drawing
//! every parameter in module order, reading the head first (as `Lm::device` does) gave other
//! weights. Its own test binary: the device RNG is shared by the tests of one process.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use hytune::model::Lm;

struct Collect(Vec<Vec<f32>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(hytune::model::to_vec(param.val()));
    }
}

fn weights(seed: u64, head_first: bool) -> Vec<Vec<f32>> {
    let device = Device::flex();
    device.seed(seed);
    let model = common::small_gpt().init(&device);
    if head_first {
        let _ = model.device();
    }
    let Lm::Gpt(gpt) = model else {
        unreachable!("a GptShape makes a GPT")
    };
    let mut c = Collect(Vec::new());
    gpt.visit(&mut c);
    c.0
}

#[test]
fn a_seed_draws_the_same_weights_whatever_is_read_first() {
    let plain = weights(11, false);
    assert_eq!(plain, weights(11, true));
    assert_ne!(plain, weights(12, false), "another seed, other weights");
    // The drawn weights are not all equal (a draw happened).
    assert!(plain[0].iter().any(|&w| w != plain[0][0]));
}
