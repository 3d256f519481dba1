//! Which settings two configs disagree on, by `section.key`: what a refusal to resume names.

use super::Config;

/// One setting the two configs give different values.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// `section.key`.
    pub key: String,
    /// The value in the first config (TOML syntax); `None` where it has no such key.
    pub there: Option<String>,
    /// The value in the second.
    pub here: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".into());
        write!(
            f,
            "`{}` is {} there, {} here",
            self.key,
            show(&self.there),
            show(&self.here)
        )
    }
}

/// The settings `a` and `b` disagree on, in `section.key` order.
pub fn differences(a: &Config, b: &Config) -> Vec<Difference> {
    let (a, b) = (flat(&a.to_table()), flat(&b.to_table()));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Difference {
            key: k.clone(),
            there: a.get(k).cloned(),
            here: b.get(k).cloned(),
        })
        .collect()
}

/// `section.key` → its value in TOML syntax (an array whole, as a user writes it).
fn flat(table: &toml::Table) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for (section, v) in table {
        match v {
            toml::Value::Table(keys) => {
                for (k, v) in keys {
                    out.insert(format!("{section}.{k}"), v.to_string());
                }
            }
            v => {
                out.insert(section.clone(), v.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_changed_key_with_both_values() {
        let a = Config::default();
        let b = a
            .with_sets(&[
                "post.steps=9".into(),
                "data.factor_range=[2, 12]".into(),
                "mix.strategy=rd".into(),
            ])
            .unwrap();
        let d = differences(&a, &b);
        let keys: Vec<&str> = d.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["data.factor_range", "mix.strategy", "post.steps"]);
        let steps = &d[2];
        assert_eq!(steps.here.as_deref(), Some("9"));
        assert_eq!(
            steps.there.as_deref(),
            Some(a.post.steps.to_string().as_str())
        );
        assert_eq!(d[0].here.as_deref(), Some("[2, 12]"));
        assert_eq!(
            d[1].to_string(),
            "`mix.strategy` is \"hytuning\" there, \"rd\" here"
        );
        assert!(differences(&b, &b).is_empty());
    }
}
