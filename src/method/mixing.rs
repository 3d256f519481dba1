//! Mixing strategies (DESIGN §1.6): the weight α_t of RD against RLIF, and the PRG gate.

use serde::{Deserialize, Serialize};

use super::sigmoid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Rd,
    Rlif,
    Fixed,
    Schedule,
    Hytuning,
}

impl Strategy {
    pub const NAMES: &'static [&'static str] = &["rd", "rlif", "fixed", "schedule", "hytuning"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| *n == s).map(|i| {
            [
                Strategy::Rd,
                Strategy::Rlif,
                Strategy::Fixed,
                Strategy::Schedule,
                Strategy::Hytuning,
            ][i]
        })
    }

    /// Only HyTuning gates positive advantages by PRG.
    pub fn gates(self) -> bool {
        self == Strategy::Hytuning
    }

    /// Pure RD needs no rollouts.
    pub fn needs_rollouts(self) -> bool {
        self != Strategy::Rd
    }
}

/// Which answer a rollout's PRG is scored against (docs/method.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutPrg {
    /// The rollout's own answer (DESIGN §1.4 as reconstructed): rewards self-consistency.
    Own,
    /// The majority answer of the rollout's group: steps must lead to what the group agrees on.
    Consensus,
}

impl RolloutPrg {
    pub const NAMES: &'static [&'static str] = &["own", "consensus"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "own" => Some(RolloutPrg::Own),
            "consensus" => Some(RolloutPrg::Consensus),
            _ => None,
        }
    }
}

/// What HyTuning's α follows (`mix.alpha_rule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlphaRule {
    /// `sigmoid((PRG_anchor − PRG_policy) / τ)` (DESIGN §1.6): the gold traces' PRG against the
    /// unlabeled rollouts' PRG, two quantities on different questions that can invert.
    Prg,
    /// `1 − solve rate` of this step's labeled rollouts (HPT/ReLIFT): lean on distillation
    /// while the policy cannot yet solve the labeled questions itself.
    SolveRate,
    /// `1 − solve rate` of the held-out labeled traces' rollouts (`mix.heldout_labels`, never
    /// trained on): RD's weight follows what the policy cannot yet do on questions it has not
    /// seen, which memorising the RD batch cannot move.
    Heldout,
}

impl AlphaRule {
    pub const NAMES: &'static [&'static str] = &["prg", "solve_rate", "heldout"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "prg" => Some(AlphaRule::Prg),
            "solve_rate" => Some(AlphaRule::SolveRate),
            "heldout" => Some(AlphaRule::Heldout),
            _ => None,
        }
    }
}

/// The `[mix]` hyperparameters that α depends on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixParams {
    pub strategy: Strategy,
    pub alpha: f64,
    pub alpha_min: f64,
    pub alpha_max: f64,
    pub momentum: f64,
    pub tau: f64,
    pub tau_gate: f64,
    /// Cold-start hold (HyTuning): α stays at `alpha_max` while the policy's mean confidence in
    /// the gold answers after the gold steps is below this; 0 turns the hold off.
    pub hold_until_conf: f64,
    pub rule: AlphaRule,
}

/// What HyTuning's α reads at a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrgSignals {
    /// Mean PRG of the gold traces (gold answers) under the current policy.
    pub anchor: f64,
    /// Mean PRG of this step's rollouts.
    pub policy: f64,
    /// Mean `p_K` of the gold traces: how well the policy follows them to the gold answer.
    pub anchor_conf: f64,
    /// Share of this step's labeled rollouts that reached the gold answer (`None`: none rolled).
    pub solve_rate: Option<f64>,
    /// Share of this step's held-out rollouts that reached the gold answer (`None`: none held
    /// out).
    pub heldout: Option<f64>,
}

/// What α carries from step to step; saved in checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixState {
    /// α_{t−1} of the EMA (starts at `alpha`).
    pub alpha: f64,
    /// The reward canary flagged hacking and `eval.on_hacking = rd`: α stays at `alpha_max`.
    #[serde(default)]
    pub held: bool,
}

impl MixState {
    pub fn new(p: &MixParams) -> Self {
        Self {
            alpha: p.alpha,
            held: false,
        }
    }

    /// α_t for step `step` of `total`, given this step's PRG signals (HyTuning only reads them).
    pub fn next_alpha(&mut self, p: &MixParams, step: usize, total: usize, s: PrgSignals) -> f64 {
        let a = match p.strategy {
            Strategy::Rd => 1.0,
            Strategy::Rlif => 0.0,
            Strategy::Fixed => p.alpha,
            Strategy::Schedule => {
                let frac = step as f64 / total.saturating_sub(1).max(1) as f64;
                p.alpha_max + (p.alpha_min - p.alpha_max) * frac.min(1.0)
            }
            Strategy::Hytuning if self.held || s.anchor_conf < p.hold_until_conf => p.alpha_max,
            Strategy::Hytuning => {
                // A rate rule with no rollout to measure this step: α keeps its course.
                let unsolved = |rate: Option<f64>| rate.map_or(self.alpha, |r| 1.0 - r);
                let raw = match p.rule {
                    AlphaRule::Prg => sigmoid((s.anchor - s.policy) / p.tau),
                    AlphaRule::SolveRate => unsolved(s.solve_rate),
                    AlphaRule::Heldout => unsolved(s.heldout),
                };
                (p.momentum * self.alpha + (1.0 - p.momentum) * raw).clamp(p.alpha_min, p.alpha_max)
            }
        };
        self.alpha = a;
        a
    }
}

/// `A ← A · sigmoid(PRG / τ_g)` for positive advantages; negative ones pass unchanged.
pub fn gate(advantage: f64, prg: f64, tau_gate: f64) -> f64 {
    if advantage > 0.0 {
        advantage * sigmoid(prg / tau_gate)
    } else {
        advantage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(strategy: Strategy) -> MixParams {
        MixParams {
            strategy,
            alpha: 0.5,
            alpha_min: 0.1,
            alpha_max: 0.9,
            momentum: 0.9,
            tau: 0.1,
            tau_gate: 0.1,
            hold_until_conf: 0.0,
            rule: AlphaRule::Prg,
        }
    }

    fn sig(anchor: f64, policy: f64) -> PrgSignals {
        PrgSignals {
            anchor,
            policy,
            anchor_conf: 1.0,
            solve_rate: None,
            heldout: None,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn constant_strategies() {
        for (s, want) in [
            (Strategy::Rd, 1.0),
            (Strategy::Rlif, 0.0),
            (Strategy::Fixed, 0.5),
        ] {
            let p = params(s);
            let mut st = MixState::new(&p);
            for t in 0..3 {
                assert_eq!(st.next_alpha(&p, t, 3, sig(0.9, -0.9)), want);
            }
        }
    }

    #[test]
    fn schedule_decays_linearly() {
        let p = params(Strategy::Schedule);
        let mut st = MixState::new(&p);
        let got: Vec<f64> = (0..5)
            .map(|t| st.next_alpha(&p, t, 5, sig(0.0, 0.0)))
            .collect();
        for (g, w) in got.iter().zip([0.9, 0.7, 0.5, 0.3, 0.1]) {
            assert!(close(*g, w), "{got:?}");
        }
    }

    #[test]
    fn hytuning_ema_and_clamp_by_hand() {
        let p = params(Strategy::Hytuning);
        let mut st = MixState::new(&p);
        // raw = sigmoid(2) = 0.880797; 0.9·0.5 + 0.1·0.880797
        assert!(close(st.next_alpha(&p, 0, 10, sig(0.3, 0.1)), 0.538080));
        // raw = sigmoid(−5) = 0.006693; 0.9·0.538080 + 0.1·0.006693
        assert!(close(st.next_alpha(&p, 1, 10, sig(0.0, 0.5)), 0.484941));
        st.alpha = 0.1;
        assert_eq!(
            st.next_alpha(&p, 2, 10, sig(0.0, 0.5)),
            0.1,
            "clamped at alpha_min"
        );
        st.alpha = 0.9;
        assert_eq!(
            st.next_alpha(&p, 3, 10, sig(1.0, -1.0)),
            0.9,
            "clamped at alpha_max"
        );
    }

    #[test]
    fn cold_start_hold_keeps_alpha_at_max_until_the_anchor_is_followed() {
        let p = MixParams {
            hold_until_conf: 0.5,
            ..params(Strategy::Hytuning)
        };
        let mut st = MixState::new(&p);
        // The policy cannot follow the gold traces (p_K 0.2): α is held, whatever the PRGs say.
        let cold = PrgSignals {
            anchor: 0.0,
            policy: 0.5,
            anchor_conf: 0.2,
            solve_rate: None,
            heldout: None,
        };
        assert_eq!(st.next_alpha(&p, 0, 10, cold), 0.9);
        assert_eq!(st.next_alpha(&p, 1, 10, cold), 0.9);
        // Released: the EMA starts from the held 0.9. raw = sigmoid(−5) = 0.006693;
        // 0.9·0.9 + 0.1·0.006693 = 0.810669.
        let warm = PrgSignals {
            anchor_conf: 0.6,
            ..cold
        };
        assert!(close(st.next_alpha(&p, 2, 10, warm), 0.810669));
        // Other strategies ignore the hold.
        let f = MixParams {
            hold_until_conf: 0.5,
            ..params(Strategy::Fixed)
        };
        assert_eq!(MixState::new(&f).next_alpha(&f, 0, 10, cold), 0.5);
    }

    #[test]
    fn solve_rate_rule_by_hand_and_the_hacking_hold() {
        let p = MixParams {
            rule: AlphaRule::SolveRate,
            ..params(Strategy::Hytuning)
        };
        let mut st = MixState::new(&p);
        let solved = |r| PrgSignals {
            solve_rate: Some(r),
            ..sig(0.0, 0.9)
        };
        // raw = 1 − 0.25 = 0.75; 0.9·0.5 + 0.1·0.75 = 0.525 (the PRGs are not read).
        assert!(close(st.next_alpha(&p, 0, 10, solved(0.25)), 0.525));
        // No labeled rollout: raw = α itself, α stays.
        assert!(close(st.next_alpha(&p, 1, 10, sig(0.0, 0.9)), 0.525));
        // All solved: raw 0; 0.9·0.525 = 0.4725.
        assert!(close(st.next_alpha(&p, 2, 10, solved(1.0)), 0.4725));
        // Held after a hacking flag: alpha_max from then on.
        st.held = true;
        assert_eq!(st.next_alpha(&p, 3, 10, solved(1.0)), 0.9);
        assert_eq!(AlphaRule::parse("solve_rate"), Some(AlphaRule::SolveRate));
    }

    #[test]
    fn heldout_rule_reads_only_the_held_out_rate() {
        let p = MixParams {
            rule: AlphaRule::Heldout,
            ..params(Strategy::Hytuning)
        };
        let mut st = MixState::new(&p);
        // A memorized RD batch: every labeled rollout solved, anchor PRG 1 against the
        // policy's 0.2 (the PRG rule's raw α would be sigmoid(16) ≈ 1).
        let s = |h| PrgSignals {
            solve_rate: Some(1.0),
            heldout: h,
            ..sig(1.0, 0.2)
        };
        // raw = 1 − 0.375 = 0.625; 0.9·0.5 + 0.1·0.625 = 0.5125.
        assert!(close(st.next_alpha(&p, 0, 10, s(Some(0.375))), 0.5125));
        // Nothing held out this step: α keeps its course.
        assert!(close(st.next_alpha(&p, 1, 10, s(None)), 0.5125));
        // Nothing solved: raw 1; 0.9·0.5125 + 0.1 = 0.56125.
        assert!(close(st.next_alpha(&p, 2, 10, s(Some(0.0))), 0.56125));
        // Everything solved for long: the EMA falls to the clamp, 0.1.
        for k in 3..80 {
            st.next_alpha(&p, k, 100, s(Some(1.0)));
        }
        assert_eq!(st.alpha, 0.1);
        assert_eq!(AlphaRule::parse("heldout"), Some(AlphaRule::Heldout));
    }

    #[test]
    fn gate_scales_only_positive_advantages() {
        assert!(close(gate(1.0, 0.2, 0.1), 0.880797));
        assert!(close(gate(2.0, -0.2, 0.1), 2.0 * 0.119203));
        assert!(close(gate(1.0, 0.0, 0.1), 0.5));
        assert_eq!(gate(-1.5, 0.9, 0.1), -1.5);
        assert_eq!(gate(0.0, 0.9, 0.1), 0.0);
        assert_eq!(Strategy::parse("hytuning"), Some(Strategy::Hytuning));
        assert_eq!(Strategy::Schedule.name(), "schedule");
    }
}
