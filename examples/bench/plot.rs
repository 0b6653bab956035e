//! The growth plot: p50 and p99 per lookup against the table size, log-log,
//! one panel per store, for func_odbc as published (a), func_odbc on a
//! normalised column (b), LAST_AGENT cold (c) and warm (d).

use std::path::Path;

use plotters::prelude::*;

/// One line: a case's label and its (rows, p50 µs, p99 µs) points.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// One panel per store.
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
}

const COLOURS: [RGBColor; 4] =
    [RGBColor(200, 40, 40), RGBColor(230, 140, 0), RGBColor(40, 90, 200), RGBColor(20, 150, 60)];

pub fn draw(path: &Path, caption: &str, panels: &[Panel]) -> Result<(), String> {
    let width = (560 * panels.len().max(1) as u32).max(900);
    let root = BitMapBackend::new(path, (width, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root.titled(caption, ("sans-serif", 18)).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    let all = || panels.iter().flat_map(|p| p.series.iter()).flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, 0.0f64, f64::MAX, 0.0f64);
    for &(x, p50, p99) in all() {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(p50.max(0.5));
        y_max = y_max.max(p99);
    }
    if x_max == 0.0 {
        return Err("nothing to plot".into());
    }
    let x_range = (x_min / 1.5)..(x_max * 1.5);
    let y_range = (y_min / 2.0)..(y_max * 2.0);
    for (area, panel) in areas.iter().zip(panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_range.clone().log_scale(), y_range.clone().log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("rows in cdr / sticky_history")
            .y_desc("µs per lookup")
            .x_label_formatter(&|x| format_rows(*x))
            .y_label_formatter(&|y| format!("{y}"))
            .draw()
            .map_err(|e| e.to_string())?;
        for (index, series) in panel.series.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let p50: Vec<(f64, f64)> = series.points.iter().map(|&(x, p50, _)| (x, p50)).collect();
            let p99: Vec<(f64, f64)> = series.points.iter().map(|&(x, _, p99)| (x, p99)).collect();
            chart
                .draw_series(LineSeries::new(p50.clone(), colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(format!("{} p50", series.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
            chart.draw_series(p50.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(p99.clone(), colour.mix(0.5).stroke_width(1)))
                .map_err(|e| e.to_string())?
                .label(format!("{} p99", series.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.mix(0.5).stroke_width(1)));
            chart
                .draw_series(p99.iter().map(|&p| TriangleMarker::new(p, 4, colour.mix(0.5))))
                .map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 10))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

pub fn format_rows(rows: f64) -> String {
    if rows >= 1e6 {
        format!("{}M", rows / 1e6)
    } else if rows >= 1e3 {
        format!("{}k", rows / 1e3)
    } else {
        format!("{rows}")
    }
}
