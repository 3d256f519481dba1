//! Which cells of the fixed cell list this process runs: `--shard I/N` (I from 1, as nextest,
//! Playwright and Jest count shards), or the
//! index a scheduler gives its array task — Slurm job arrays (`SLURM_ARRAY_TASK_ID` less
//! `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`) and Kubernetes Indexed Jobs
//! (`JOB_COMPLETION_INDEX`, the count from `--shards` or `HYTUNE_SHARDS`). Cell k belongs to
//! shard k mod N (counted from 0 inside: `--shard 1/N` owns cells 0, N, 2N, …), so every shard
//! gets a share of each strategy's (unequal) cost.

use anyhow::{Result, bail};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// From 0 (`--shard 1/N` is index 0).
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// `I/N` with 1 ≤ I ≤ N.
    pub fn parse(s: &str) -> Result<Self> {
        let parsed = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse::<usize>().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((0, count)) => bail!(
                "--shard 0/{count}: shards count from 1 (1/{count} … {count}/{count}), as in nextest, Playwright and Jest"
            ),
            Some((i, count)) if i > count => {
                bail!("--shard {i}/{count}: shard {i} of {count} does not exist (1 ≤ I ≤ N)")
            }
            Some((i, count)) => Self::new(i - 1, count, "--shard"),
            None => bail!("--shard: expected I/N (e.g. 1/4, shards counted from 1), got `{s}`"),
        }
    }

    fn new(index: usize, count: usize, source: &str) -> Result<Self> {
        if count == 0 || index >= count {
            bail!("{source}: index {index} of {count} does not exist (0 ≤ index < count)");
        }
        Ok(Shard { index, count })
    }

    /// The shard a scheduler's variables name, if any: `var` reads one variable.
    pub fn from_env(
        shards: Option<usize>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>> {
        let num = |name: &str| -> Result<Option<usize>> {
            match var(name) {
                None => Ok(None),
                Some(v) => match v.trim().parse() {
                    Ok(n) => Ok(Some(n)),
                    Err(_) => bail!("{name}: expected a whole number, got `{v}`"),
                },
            }
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let Some(count) = num("SLURM_ARRAY_TASK_COUNT")? else {
                bail!("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
            };
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let Some(index) = id.checked_sub(min) else {
                bail!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}");
            };
            return Self::new(index, count, "SLURM_ARRAY_TASK_ID").map(Some);
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = match shards {
                Some(n) => n,
                None => match num("HYTUNE_SHARDS")? {
                    Some(n) => n,
                    None => bail!(
                        "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give the shard count with --shards N or HYTUNE_SHARDS (the Job's completions)"
                    ),
                },
            };
            return Self::new(index, count, "JOB_COMPLETION_INDEX").map(Some);
        }
        Ok(None)
    }

    /// Whether cell `k` of the cell list is this shard's.
    pub fn owns(&self, k: usize) -> bool {
        k % self.count == self.index
    }

    pub fn describe(&self) -> String {
        format!("shard {}/{}", self.index + 1, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| v.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn flag_and_round_robin() {
        let s = Shard::parse("2/3").unwrap();
        assert_eq!(s, Shard { index: 1, count: 3 });
        assert_eq!(s.describe(), "shard 2/3");
        // 1/N … N/N cover every cell (a script written for nextest loses none).
        let all: Vec<Shard> = (1..=3)
            .map(|i| Shard::parse(&format!("{i}/3")).unwrap())
            .collect();
        assert_eq!(all.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 1, 2]);
        let mine: Vec<usize> = (0..8).filter(|&k| s.owns(k)).collect();
        assert_eq!(mine, [1, 4, 7]);
        // Every cell belongs to exactly one shard.
        for k in 0..20 {
            assert_eq!(
                (0..3)
                    .filter(|&i| Shard { index: i, count: 3 }.owns(k))
                    .count(),
                1
            );
        }
        for bad in ["4/3", "0/3", "0/0", "1/0", "1", "a/2", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert!(format!("{:#}", Shard::parse("4/3").unwrap_err()).contains("--shard"));
        let zero = format!("{:#}", Shard::parse("0/3").unwrap_err());
        assert!(zero.contains("count from 1"), "{zero}");
    }

    #[test]
    fn slurm_arrays_from_their_minimum() {
        // sbatch --array=1-4: ids 1..4, count 4, min 1.
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(
            Shard::from_env(None, &e).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]);
        assert_eq!(
            Shard::from_env(None, &e).unwrap(),
            Some(Shard { index: 0, count: 2 })
        );
        let e = env(&[("SLURM_ARRAY_TASK_ID", "2")]);
        assert!(Shard::from_env(None, &e).is_err());
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]);
        let err = format!("{:#}", Shard::from_env(None, &e).unwrap_err());
        assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
    }

    #[test]
    fn kubernetes_indexed_jobs_need_a_count() {
        let e = env(&[("JOB_COMPLETION_INDEX", "2")]);
        assert!(Shard::from_env(None, &e).is_err());
        assert_eq!(
            Shard::from_env(Some(3), &e).unwrap(),
            Some(Shard { index: 2, count: 3 })
        );
        let e = env(&[("JOB_COMPLETION_INDEX", "2"), ("HYTUNE_SHARDS", "5")]);
        assert_eq!(
            Shard::from_env(None, &e).unwrap(),
            Some(Shard { index: 2, count: 5 })
        );
        let e = env(&[("JOB_COMPLETION_INDEX", "5"), ("HYTUNE_SHARDS", "5")]);
        assert!(Shard::from_env(None, &e).is_err());
        assert_eq!(Shard::from_env(None, &env(&[])).unwrap(), None);
    }
}
