//! Prometheus's text exposition format (version 0.0.4) of metric families:
//! `# HELP` and `# TYPE` once per family, one line per series, label values
//! escaped, histograms as cumulative `_bucket{le}` series with `_sum` and
//! `_count`.

use std::fmt::Write;

use crate::history::latency::Histogram;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One series' labels: (name, value) pairs.
pub type Labels = Vec<(&'static str, String)>;

/// What a family holds.
#[derive(Debug, Clone)]
pub enum Values {
    /// Counter or gauge series.
    Series(Vec<(Labels, f64)>),
    /// One histogram without labels.
    Histogram(Histogram),
}

/// A metric family: its name, help text, type and series.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub values: Values,
}

impl Family {
    /// A family of one series without labels.
    pub fn single(name: &'static str, kind: Kind, help: &'static str, value: f64) -> Family {
        Family { name, help, kind, values: Values::Series(vec![(Vec::new(), value)]) }
    }

    /// How many series lines it renders to.
    pub fn series(&self) -> usize {
        match &self.values {
            Values::Series(series) => series.len(),
            Values::Histogram(histogram) => histogram.buckets.len() + 3,
        }
    }
}

/// A label value with `\`, `"` and line feeds escaped.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn labels(out: &mut String, labels: &[(&'static str, String)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", escape_label(value));
    }
    out.push('}');
}

/// A value as Prometheus reads it (integers without a fraction).
fn number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The families as exposition text.
pub fn render(families: &[Family]) -> String {
    let mut out = String::with_capacity(families.len() * 160);
    for family in families {
        let help = family.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {} {help}", family.name);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
        match &family.values {
            Values::Series(series) => {
                for (series_labels, value) in series {
                    out.push_str(family.name);
                    labels(&mut out, series_labels);
                    let _ = writeln!(out, " {}", number(*value));
                }
            }
            Values::Histogram(histogram) => {
                for (bound, count) in &histogram.buckets {
                    let _ = writeln!(out, "{}_bucket{{le=\"{bound}\"}} {count}", family.name);
                }
                let _ = writeln!(out, "{}_bucket{{le=\"+Inf\"}} {}", family.name, histogram.count);
                let _ = writeln!(out, "{}_sum {}", family.name, histogram.sum_seconds);
                let _ = writeln!(out, "{}_count {}", family.name, histogram.count);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_in_the_text_format() {
        let families = vec![
            Family {
                name: "asterisk_sticky_lookups_total",
                help: "Decisions.\nBy status",
                kind: Kind::Counter,
                values: Values::Series(vec![(
                    vec![("scope", "a\"b\\c\nd".to_string()), ("status", "ROUTED".into())],
                    3.0,
                )]),
            },
            Family {
                name: "asterisk_sticky_lookup_duration_seconds",
                help: "Lookup time.",
                kind: Kind::Histogram,
                values: Values::Histogram(Histogram {
                    buckets: vec![(1e-6, 1), (2e-6, 2)],
                    count: 3,
                    sum_seconds: 0.5,
                }),
            },
        ];
        let text = render(&families);
        assert_eq!(
            text,
            "# HELP asterisk_sticky_lookups_total Decisions.\\nBy status\n\
             # TYPE asterisk_sticky_lookups_total counter\n\
             asterisk_sticky_lookups_total{scope=\"a\\\"b\\\\c\\nd\",status=\"ROUTED\"} 3\n\
             # HELP asterisk_sticky_lookup_duration_seconds Lookup time.\n\
             # TYPE asterisk_sticky_lookup_duration_seconds histogram\n\
             asterisk_sticky_lookup_duration_seconds_bucket{le=\"0.000001\"} 1\n\
             asterisk_sticky_lookup_duration_seconds_bucket{le=\"0.000002\"} 2\n\
             asterisk_sticky_lookup_duration_seconds_bucket{le=\"+Inf\"} 3\n\
             asterisk_sticky_lookup_duration_seconds_sum 0.5\n\
             asterisk_sticky_lookup_duration_seconds_count 3\n"
        );
        assert_eq!(families.iter().map(Family::series).sum::<usize>(), 1 + 5);
    }
}
