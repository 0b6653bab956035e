//! The panels of the Grafana dashboard (doc/grafana/res_sticky.json) drawn
//! from a real run, for the README: Grafana is not in Debian's packages, so
//! the same queries are computed here from a series of real scrapes of
//! Asterisk's `/metrics` and drawn with plotters. The run: an Asterisk in
//! the test root with res_prometheus, history in PostgreSQL, client calls
//! in two scopes (first calls go to the queue, callbacks are routed to
//! their agent, agent 102 busy half the time), and the database stopped
//! from 40 s to 60 s. Scraped every 2 s for 90 s; the picture goes to
//! doc/grafana/res_sticky.png, the figures to doc/grafana/res_sticky-scrapes.csv.
//!
//! `RES_STICKY_SO=$PWD/res_sticky.so cargo run --release --example dashboard`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::time::{Duration, Instant};

use common::asterisk::free_port;
use common::calls::*;
use common::db::{Kind, Server};
use common::root::manifest_dir;
use common::Asterisk;
use plotters::prelude::*;

const RUN: Duration = Duration::from_secs(90);
const OUTAGE: (f64, f64) = (40.0, 60.0);
const EVERY: Duration = Duration::from_secs(2);

/// What one scrape says (our series only).
#[derive(Default, Clone)]
struct Scrape {
    at: f64,
    values: BTreeMap<String, f64>,
}

impl Scrape {
    fn parse(at: f64, text: &str) -> Scrape {
        let values = text
            .lines()
            .filter(|line| line.starts_with("asterisk_sticky_"))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_string(), value.parse().ok()?))
            })
            .collect();
        Scrape { at, values }
    }

    fn get(&self, series: &str) -> f64 {
        self.values.get(series).copied().unwrap_or(0.0)
    }

    /// The sum of every series of `family` whose labels contain `with`.
    fn sum(&self, family: &str, with: &str) -> f64 {
        self.values
            .iter()
            .filter(|(series, _)| series.starts_with(&format!("{family}{{")) && series.contains(with))
            .map(|(_, value)| value)
            .sum()
    }

    /// The lookup histogram's cumulative buckets, (le, count).
    fn buckets(&self) -> Vec<(f64, f64)> {
        let prefix = "asterisk_sticky_lookup_duration_seconds_bucket{le=\"";
        let mut buckets: Vec<(f64, f64)> = self
            .values
            .iter()
            .filter_map(|(series, value)| {
                let le = series.strip_prefix(prefix)?.strip_suffix("\"}")?;
                Some((if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? }, *value))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets
    }
}

/// histogram_quantile over the buckets' growth: linear within a bucket.
fn quantile(q: f64, earlier: &[(f64, f64)], later: &[(f64, f64)]) -> Option<f64> {
    let delta: Vec<(f64, f64)> = later.iter().zip(earlier).map(|(l, e)| (l.0, l.1 - e.1)).collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for &(le, count) in &delta {
        if count >= rank {
            if le.is_infinite() {
                return Some(previous.0);
            }
            let within = if count > previous.1 { (rank - previous.1) / (count - previous.1) } else { 1.0 };
            return Some(previous.0 + (le - previous.0) * within);
        }
        previous = (le, count);
    }
    None
}

fn scrape(port: u16) -> String {
    ureq::get(&format!("http://127.0.0.1:{port}/metrics")).call().expect("GET /metrics").into_string().expect("text")
}

fn main() {
    let mut server = Server::start(Kind::Postgres, "dashboard");
    let sticky = format!("{}dsn = {}\nquery_timeout = 250ms\n", routing_sticky(), server.dsn_for_conf());
    let port = free_port();
    let modules = fs::read_to_string(manifest_dir().join("tests/asterisk/modules.conf")).unwrap();
    let options = routing_options(&sticky)
        .file("modules.conf", &format!("{modules}load = res_prometheus.so\n"))
        .file("http.conf", &format!("[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {port}\n"))
        .file("prometheus.conf", "[general]\nenabled = yes\nuri = metrics\n");
    let asterisk = Asterisk::start("dashboard", options);
    asterisk.cli("core set verbose 0");
    let ami = asterisk.ami();
    for agent in ["101", "102", "103"] {
        set_state(&asterisk, agent, "NOT_INUSE");
    }
    let started = Instant::now();
    let mut scrapes = vec![Scrape::parse(0.0, &scrape(port))];
    let mut next_scrape = started + EVERY;
    let (mut stopped, mut restarted) = (false, false);
    let mut call = 0u64;
    while started.elapsed() < RUN {
        let at = started.elapsed().as_secs_f64();
        if !stopped && at >= OUTAGE.0 {
            server.stop();
            stopped = true;
        }
        if stopped && !restarted && at >= OUTAGE.1 {
            server.run();
            restarted = true;
        }
        // Every other call a new client, the others one of 40 returning
        // ones; agent 102 busy in every other 10 s.
        let busy = (at as u64 / 10) % 2 == 1;
        set_state(&asterisk, "102", if busy { "INUSE" } else { "NOT_INUSE" });
        let client =
            if call.is_multiple_of(2) { format!("7913{:07}", call) } else { format!("791200{:05}", (call * 7) % 40) };
        let scope = if call.is_multiple_of(3) { "sales" } else { "support" };
        let _ = client_calls(&ami, &client, &[("STICKY_SCOPE", scope)]);
        call += 1;
        if call.is_multiple_of(50) {
            ami.clear();
        }
        if Instant::now() >= next_scrape {
            scrapes.push(Scrape::parse(started.elapsed().as_secs_f64(), &scrape(port)));
            next_scrape += EVERY;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    println!("{call} calls in {:?}, {} scrapes", started.elapsed(), scrapes.len());
    let dir = manifest_dir().join("doc/grafana");
    write_csv(&dir.join("res_sticky-scrapes.csv"), &scrapes);
    draw(&dir.join("res_sticky.png"), &scrapes).expect("drawing the panels");
    println!("wrote {}", dir.join("res_sticky.png").display());
}

/// The figures of every scrape, one row each.
fn write_csv(path: &std::path::Path, scrapes: &[Scrape]) {
    let mut out = String::from("seconds,hits,misses,routed,nohistory,busy,error,answered_sales,answered_support,missed_sales,missed_support,lookups,writes_pending,journal_bytes,breaker_open\n");
    for s in scrapes {
        let _ = writeln!(
            out,
            "{:.1},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            s.at,
            s.get("asterisk_sticky_cache_hits_total"),
            s.get("asterisk_sticky_cache_misses_total"),
            s.sum("asterisk_sticky_lookups_total", "status=\"ROUTED\""),
            s.sum("asterisk_sticky_lookups_total", "status=\"NOHISTORY\""),
            s.sum("asterisk_sticky_lookups_total", "status=\"BUSY\""),
            s.sum("asterisk_sticky_lookups_total", "status=\"ERROR\""),
            s.sum("asterisk_sticky_routed_answered_total", "scope=\"sales\""),
            s.sum("asterisk_sticky_routed_answered_total", "scope=\"support\""),
            s.sum("asterisk_sticky_routed_missed_total", "scope=\"sales\""),
            s.sum("asterisk_sticky_routed_missed_total", "scope=\"support\""),
            s.get("asterisk_sticky_lookup_duration_seconds_count"),
            s.get("asterisk_sticky_writes_pending"),
            s.get("asterisk_sticky_journal_bytes"),
            s.get("asterisk_sticky_breaker_state{state=\"open\"}"),
        );
    }
    fs::write(path, out).expect("writing the scrapes");
}

/// A panel's lines: (label, colour, points).
type Lines = Vec<(String, RGBColor, Vec<(f64, f64)>)>;

/// Each scrape against the one `back` scrapes before it.
fn windows(scrapes: &[Scrape], back: usize) -> impl Iterator<Item = (&Scrape, &Scrape)> {
    (back..scrapes.len()).map(move |i| (&scrapes[i - back], &scrapes[i]))
}

const RED: RGBColor = RGBColor(200, 40, 40);
const ORANGE: RGBColor = RGBColor(230, 140, 0);
const BLUEISH: RGBColor = RGBColor(40, 90, 200);
const GREENISH: RGBColor = RGBColor(20, 150, 60);
const GREY: RGBColor = RGBColor(120, 120, 120);

fn panels(scrapes: &[Scrape]) -> Vec<(&'static str, &'static str, Lines)> {
    let rate = |family: &str, with: &str, colour, label: &str| {
        let points = windows(scrapes, 5)
            .map(|(a, b)| (b.at, (b.sum(family, with) - a.sum(family, with)) / (b.at - a.at)))
            .collect();
        (label.to_string(), colour, points)
    };
    let hit_rate = windows(scrapes, 5)
        .filter_map(|(a, b)| {
            let hits = b.get("asterisk_sticky_cache_hits_total") - a.get("asterisk_sticky_cache_hits_total");
            let misses = b.get("asterisk_sticky_cache_misses_total") - a.get("asterisk_sticky_cache_misses_total");
            (hits + misses > 0.0).then(|| (b.at, 100.0 * hits / (hits + misses)))
        })
        .collect();
    let success = |scope: &str, colour| {
        let points = windows(scrapes, 15)
            .filter_map(|(a, b)| {
                let with = format!("scope=\"{scope}\"");
                let answered = b.sum("asterisk_sticky_routed_answered_total", &with)
                    - a.sum("asterisk_sticky_routed_answered_total", &with);
                let missed = b.sum("asterisk_sticky_routed_missed_total", &with)
                    - a.sum("asterisk_sticky_routed_missed_total", &with);
                (answered + missed > 0.0).then(|| (b.at, 100.0 * answered / (answered + missed)))
            })
            .collect();
        (scope.to_string(), colour, points)
    };
    let latency = |q: f64, colour, label: &str| {
        let points = windows(scrapes, 5)
            .filter_map(|(a, b)| quantile(q, &a.buckets(), &b.buckets()).map(|v| (b.at, v * 1e3)))
            .collect();
        (label.to_string(), colour, points)
    };
    let gauge = |series: &str, scale: f64, colour, label: &str| {
        (label.to_string(), colour, scrapes.iter().map(|s| (s.at, s.get(series) * scale)).collect())
    };
    let family = "asterisk_sticky_lookups_total";
    vec![
        ("Cache hit rate", "%", vec![("hit rate".to_string(), BLUEISH, hit_rate)]),
        (
            "STICKY_ROUTE decisions by status",
            "per second",
            vec![
                rate(family, "status=\"ROUTED\"", GREENISH, "ROUTED"),
                rate(family, "status=\"NOHISTORY\"", BLUEISH, "NOHISTORY"),
                rate(family, "status=\"BUSY\"", ORANGE, "BUSY"),
                rate(family, "status=\"ERROR\"", RED, "ERROR"),
            ],
        ),
        ("Success rate per scope (30 s)", "%", vec![success("sales", GREENISH), success("support", BLUEISH)]),
        ("Lookup latency", "ms", vec![latency(0.5, BLUEISH, "p50"), latency(0.99, RED, "p99")]),
        (
            "Pending writes and journal",
            "contacts / kB",
            vec![
                gauge("asterisk_sticky_writes_pending", 1.0, ORANGE, "writes pending"),
                gauge("asterisk_sticky_journal_bytes", 1e-3, GREY, "journal kB"),
            ],
        ),
        (
            "History database breaker",
            "1 = in state",
            vec![
                gauge("asterisk_sticky_breaker_state{state=\"closed\"}", 1.0, GREENISH, "closed"),
                gauge("asterisk_sticky_breaker_state{state=\"failing\"}", 1.0, ORANGE, "failing"),
                gauge("asterisk_sticky_breaker_state{state=\"open\"}", 1.0, RED, "open"),
            ],
        ),
    ]
}

fn draw(path: &std::path::Path, scrapes: &[Scrape]) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1200, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled(
            "res_sticky: the dashboard's panels from 90 s of real scrapes (database stopped 40-60 s)",
            ("sans-serif", 18),
        )
        .map_err(|e| e.to_string())?;
    let end = scrapes.last().map_or(1.0, |s| s.at);
    for (area, (title, unit, lines)) in root.split_evenly((3, 2)).iter().zip(panels(scrapes)) {
        let top = lines.iter().flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y)).fold(0.0f64, f64::max);
        let top = if title.contains('%') || unit == "%" { 105.0 } else { (top * 1.15).max(1.0) };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..end, 0.0..top)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("s").y_desc(unit).draw().map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(OUTAGE.0, 0.0), (OUTAGE.1, top)],
                RGBColor(255, 220, 220).mix(0.5).filled(),
            )))
            .map_err(|e| e.to_string())?;
        for (label, colour, points) in lines {
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}
