//! The TUI without a terminal: keys → commands, events → state, and screen snapshots from
//! synthetic events at 80×24 and 120×40; then the real binary in tmux.

use std::path::PathBuf;

use hytune::config::Config;
use hytune::engine::evaluate::summarize;
use hytune::engine::protocol::{
    Command, Event, Phase, Prediction, PrgTrace, RunInfo, Sample, StepMetrics,
};
use hytune::tui::app::{App, Popup};
use hytune::tui::update::{Msg, update};
use hytune::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn key(app: &mut App, k: &str) -> Vec<Command> {
    update(app, Msg::Key(k.into()))
}

fn ev(app: &mut App, e: Event) {
    assert!(update(app, Msg::Engine(e)).is_empty());
}

/// Periodic evaluations read the dev split (the one that chooses best.hyt).
fn dev(mut r: hytune::engine::protocol::EvalReport) -> hytune::engine::protocol::EvalReport {
    r.split = "dev".into();
    r
}

fn step(phase: &str, step: usize, total: usize) -> StepMetrics {
    let t = step as f64;
    let post = phase == "post";
    StepMetrics {
        phase: phase.into(),
        step,
        total,
        lr: 5e-4,
        loss_rd: Some(2.0 / (1.0 + 0.1 * t)),
        loss_rlif: post.then(|| -0.05 + 0.01 * (t * 0.7).sin()),
        loss_total: 1.5 / (1.0 + 0.1 * t),
        alpha: post.then(|| 0.5 + 0.3 * (t / 10.0).sin()),
        prg_anchor: post.then(|| 0.3 + 0.01 * t),
        prg_policy: post.then(|| 0.05 + 0.02 * t),
        time_rollout: 0.5,
        time_prg: 0.1,
        time_update: 0.4,
        tok_s_rollout: Some(1000.0),
        tok_s_update: 4000.0,
        step_seconds: 1.0,
        warmup: step == 1,
        rollout_confidences: if post {
            vec![0.2, 0.55, 0.91, 0.97]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

fn prediction(i: usize) -> Prediction {
    let correct = i % 3 != 0;
    Prediction {
        question: format!("ibuprofen {} mg/kg, patient 20 kg. Dose in mg?", 5 + i),
        gold: format!("{}", (5 + i) * 20),
        answer: Some(if correct {
            format!("{}", (5 + i) * 20)
        } else {
            "7".into()
        }),
        correct,
        confidence: if correct {
            0.6 + 0.04 * i as f64
        } else {
            0.35 + 0.05 * i as f64
        },
        answer_confidence: 0.99,
        response_confidence: if correct {
            0.6 + 0.04 * i as f64
        } else {
            0.35 + 0.05 * i as f64
        },
        prg: Some(0.2),
        self_certainty: 2.5,
        steps: vec![format!("20*{}={}", 5 + i, (5 + i) * 20)],
        difficulty: Some(1 + (i % 3) as u32),
        trace: vec![0.3, 0.5 + 0.04 * i as f64],
        unfit: false,
        response: String::new(),
    }
}

/// An app that has seen pretraining, 30 post-training steps, two evaluations and a change.
fn synthetic() -> App {
    let mut app = App::new(Config::default());
    ev(
        &mut app,
        Event::Started(RunInfo {
            run_dir: PathBuf::from("/runs/demo"),
            backend: "cpu (flex)".into(),
            strategy: "hytuning".into(),
            params: 830_000,
            data: "dosage".into(),
            model: "byte GPT (d 128, 4 layers)".into(),
            training: "full fine-tuning".into(),
            memory: "memory estimate 1.0 GiB".into(),
        }),
    );
    ev(
        &mut app,
        Event::PhaseStarted {
            phase: Phase::Pretrain,
            total: 20,
            start: 0,
        },
    );
    for s in 1..=20 {
        ev(&mut app, Event::Step(Box::new(step("pretrain", s, 20))));
    }
    ev(
        &mut app,
        Event::PhaseStarted {
            phase: Phase::Post,
            total: 100,
            start: 0,
        },
    );
    ev(
        &mut app,
        Event::Eval(Box::new(dev(summarize(
            (0..12).map(prediction).collect(),
            0.9,
            "post",
            0,
        )))),
    );
    for s in 1..=30 {
        if s == 15 {
            ev(
                &mut app,
                Event::HyperChanged {
                    step: 15,
                    key: "mix.tau".into(),
                    value: "0.1".into(),
                },
            );
        }
        ev(&mut app, Event::Step(Box::new(step("post", s, 100))));
    }
    ev(
        &mut app,
        Event::Traces {
            step: 30,
            traces: vec![
                PrgTrace {
                    kind: "gold".into(),
                    question: "q".into(),
                    steps: vec!["20*5=100".into(), "100/2=50".into()],
                    answer: "50".into(),
                    trace: vec![0.1, 0.4, 0.9],
                    prg: 0.8,
                },
                PrgTrace {
                    kind: "rollout".into(),
                    question: "q".into(),
                    steps: vec!["20*5=100".into()],
                    answer: "90".into(),
                    trace: vec![0.6, 0.3],
                    prg: -0.3,
                },
            ],
        },
    );
    ev(
        &mut app,
        Event::Eval(Box::new({
            let mut r = dev(summarize(
                (3..15).map(prediction).collect(),
                0.9,
                "post",
                25,
            ));
            // A certificate answering 60 of 100 items (the 60 most confident are right).
            let conf: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
            let ok: Vec<bool> = (0..100).map(|i| i >= 40).collect();
            r.certificate =
                hytune::method::certify::certify(&conf, &ok, 0.05, 0.1, "confidence").ok();
            r
        })),
    );
    ev(
        &mut app,
        Event::Checkpoint {
            path: PathBuf::from("/runs/demo/ckpt-1post-0000025.hyt"),
            phase: Phase::Post,
            step: 25,
        },
    );
    ev(
        &mut app,
        Event::Warning("post step 12: loss is NaN; update skipped (1 in a row)".into()),
    );
    app
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn keys_become_commands() {
    let mut app = synthetic();
    assert_eq!(key(&mut app, "space"), vec![Command::Pause]);
    assert!(
        app.pausing && !app.paused,
        "pausing… until the engine confirms"
    );
    ev(&mut app, Event::Paused);
    assert!(app.paused && !app.pausing);
    assert_eq!(key(&mut app, "space"), vec![Command::Resume]);
    assert_eq!(key(&mut app, "c"), vec![Command::Checkpoint]);
    assert_eq!(key(&mut app, "e"), vec![Command::Evaluate]);
    assert!(key(&mut app, "i").is_empty());
    assert_eq!(app.popup, Some(Popup::Inspector { index: 0 }));
    assert_eq!(key(&mut app, "r"), vec![Command::Sample]);
    key(&mut app, "right");
    assert_eq!(app.popup, Some(Popup::Inspector { index: 1 }));
    key(&mut app, "esc");
    assert_eq!(app.popup, None);
    key(&mut app, "q");
    assert_eq!(app.popup, Some(Popup::Quit));
    assert_eq!(key(&mut app, "s"), vec![Command::Stop { checkpoint: true }]);
    assert!(app.stopping && !app.quit);
    ev(
        &mut app,
        Event::Finished(Box::new(hytune::engine::protocol::Summary {
            run_dir: "/r".into(),
            stopped_early: true,
            steps: 30,
            seconds: 9.0,
            first_eval: None,
            last_eval: None,
            last_checkpoint: None,
        })),
    );
    assert!(app.quit, "quits once the engine has stopped");
}

#[test]
fn editor_validates_before_sending() {
    let mut app = synthetic();
    key(&mut app, "h");
    key(&mut app, "down"); // mix.strategy
    key(&mut app, "enter");
    for _ in 0..8 {
        key(&mut app, "backspace");
    }
    for c in ["m", "a", "g", "i", "c"] {
        key(&mut app, c);
    }
    assert!(
        key(&mut app, "enter").is_empty(),
        "an invalid value is not sent"
    );
    match &app.popup {
        Some(Popup::Editor { error: Some(e), .. }) => {
            assert!(e.contains("expected one of rd, rlif"), "{e}")
        }
        p => panic!("{p:?}"),
    }
    for _ in 0..5 {
        key(&mut app, "backspace");
    }
    key(&mut app, "r");
    key(&mut app, "d");
    assert_eq!(
        key(&mut app, "enter"),
        vec![Command::SetHyper {
            key: "mix.strategy".into(),
            value: "rd".into()
        }]
    );
    ev(
        &mut app,
        Event::HyperChanged {
            step: 31,
            key: "mix.strategy".into(),
            value: "rd".into(),
        },
    );
    assert_eq!(app.config.mix.strategy, "rd");
    assert_eq!(app.view().marks.len(), 2);
}

#[test]
fn freeze_keeps_the_display_while_state_moves_on() {
    let mut app = synthetic();
    key(&mut app, "f");
    ev(&mut app, Event::Step(Box::new(step("post", 31, 100))));
    assert_eq!(
        app.view().loss_total.last(),
        app.frozen.as_ref().unwrap().loss_total.last()
    );
    assert_ne!(app.data.loss_total.last(), app.view().loss_total.last());
    key(&mut app, "f");
    assert!(app.frozen.is_none());
    assert_eq!(app.progress.step, 31, "progress kept counting while frozen");
}

#[test]
fn snapshots() {
    let mut app = synthetic();
    insta::assert_snapshot!("main_120x40", screen(&app, 120, 40));
    insta::assert_snapshot!("main_80x24", screen(&app, 80, 24));
    key(&mut app, "space");
    ev(&mut app, Event::Paused);
    insta::assert_snapshot!("paused_120x40", screen(&app, 120, 40));
    insta::assert_snapshot!("paused_80x24", screen(&app, 80, 24));
    ev(
        &mut app,
        Event::Sample(Box::new(Sample {
            source: "rollout at post step 30".into(),
            question: "amoxicillin 10 mg/kg/day in 2 doses, patient 14 kg. mg per dose?".into(),
            steps: vec!["14*10=140".into(), "140/2=70".into()],
            answer: Some("70".into()),
            gold: None,
            correct: None,
            confidence: 0.82,
            trace: vec![0.05, 0.31, 0.82],
            prg: Some(0.77),
            self_certainty: 3.1,
        })),
    );
    key(&mut app, "i");
    insta::assert_snapshot!("inspector_120x40", screen(&app, 120, 40));
    insta::assert_snapshot!("inspector_80x24", screen(&app, 80, 24));
    key(&mut app, "esc");
    key(&mut app, "h");
    key(&mut app, "down");
    insta::assert_snapshot!("editor_120x40", screen(&app, 120, 40));
    insta::assert_snapshot!("editor_80x24", screen(&app, 80, 24));
    key(&mut app, "esc");
    key(&mut app, "?");
    insta::assert_snapshot!("help_120x40", screen(&app, 120, 40));
    insta::assert_snapshot!("help_80x24", screen(&app, 80, 24));
}

#[test]
fn too_small_terminal_shows_a_notice() {
    let app = synthetic();
    assert!(screen(&app, 50, 10).contains("terminal too small"));
}
