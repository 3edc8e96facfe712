//! The HTML page's four charts as SVG strings, drawn with plotters' SVG backend: the
//! response-latency distribution (ours and theirs), the stage funnel, time in stage and where
//! momentum dies. It is the only user of plotters. Built without plotters' "ttf" and
//! "ab_glyph" features, plotters sizes text with its own estimate and writes `<text>`
//! elements that the browser lays out in its own sans-serif, so no font file is read here or
//! needed by the reader. It does not write the page around the charts (`html`).
//!
//! Category labels (buckets, stage names) are drawn as text on the root area at the pixel
//! plotters maps a category to: a numeric axis with a label per category would need a
//! segmented axis per chart for no gain. plotters escapes the text it writes.

use std::error::Error;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::term::{clean, duration};
use crate::report::{Bucket, StageNumbers, Stall};

type Drawn = Result<String, Box<dyn Error>>;

/// The legend of a chart with two series, in its upper right corner.
fn legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
) -> Result<(), Box<dyn Error>> {
    // The backend's error borrows the SVG buffer: as text, it can leave this function.
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(INK.mix(0.3))
        .label_font((FONT, 16))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The style of a category label drawn centred below its bar.
fn below() -> TextStyle<'static> {
    TextStyle::from((FONT, 16).into_font())
        .color(&INK)
        .pos(Pos::new(HPos::Center, VPos::Top))
}

const OURS: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const THEIRS: RGBColor = RGBColor(0xdd, 0x8a, 0x2e);
const MEDIAN: RGBColor = RGBColor(0x38, 0xa1, 0x69);
const P90: RGBColor = RGBColor(0x9a, 0xe6, 0xb4);
const INK: RGBColor = RGBColor(0x2d, 0x37, 0x48);
const FONT: &str = "sans-serif";
const WIDTH: u32 = 760;
const STALLS_CHARTED: usize = 10;

/// Answered waits per latency bucket, ours and theirs side by side.
pub(super) fn latency(ours: &[Bucket], theirs: &[Bucket]) -> Drawn {
    let longer = if ours.len() >= theirs.len() {
        ours
    } else {
        theirs
    };
    let n = longer.len().max(1);
    let top = ours
        .iter()
        .chain(theirs)
        .map(|b| b.count)
        .max()
        .unwrap_or(0);
    let top = top.saturating_add(top / 8).saturating_add(1);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, 0u64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("answered waits")
            .max_light_lines(2)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 16))
            .draw()?;
        for (buckets, color, offset, name) in [
            (ours, OURS, 0.1, "we answered"),
            (theirs, THEIRS, 0.5, "they answered"),
        ] {
            chart
                .draw_series(buckets.iter().enumerate().map(|(i, b)| {
                    let x = i as f64 + offset;
                    Rectangle::new([(x, 0), (x + 0.4, b.count)], color.filled())
                }))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled())
                });
        }
        legend(&mut chart)?;
        let below = below();
        for (i, b) in longer.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0));
            let label = format!("≤ {}", clean(&b.label, 12));
            let label = if b.le_seconds.is_none() {
                format!("> {}", prev_label(longer, i))
            } else {
                label
            };
            root.draw(&Text::new(label, (x, y + 8), below.clone()))?;
        }
        root.present()?;
    }
    Ok(buf)
}

/// The open last bucket reads "> the previous bound".
fn prev_label(buckets: &[Bucket], i: usize) -> String {
    i.checked_sub(1)
        .and_then(|p| buckets.get(p))
        .map_or_else(|| clean(&buckets[i].label, 12), |b| clean(&b.label, 12))
}

/// Deals that entered each stage in the window, one bar a stage, first stage on top.
pub(super) fn funnel(stages: &[StageNumbers]) -> Drawn {
    let bars: Vec<_> = stages
        .iter()
        .map(|s| (clean(&s.name, 20), s.entered, OURS, s.entered.to_string()))
        .collect();
    horizontal(&bars, "deals that entered the stage")
}

/// Where momentum dies: deals stalled per stage and turn, the most first (the top ten; the
/// table under the chart has them all).
pub(super) fn stalls(stalls: &[Stall]) -> Drawn {
    let bars: Vec<_> = stalls
        .iter()
        .take(STALLS_CHARTED)
        .map(|s| {
            let stage = s
                .stage
                .as_deref()
                .map_or("(no stage)".into(), |n| clean(n, 16));
            let (who, color) = if s.turn == "ours" {
                ("us", OURS)
            } else {
                ("buyer", THEIRS)
            };
            let note = format!("{} (gap {})", s.deals, duration(s.median_gap_seconds));
            (format!("{stage}, {who}"), s.deals, color, note)
        })
        .collect();
    horizontal(
        &bars,
        "deals that went quiet or were lost (blue: on us, orange: on the buyer)",
    )
}

/// A bar a row: (label, value, colour, note written after the bar).
fn horizontal(bars: &[(String, u64, RGBColor, String)], desc: &str) -> Drawn {
    let n = bars.len().max(1);
    let top = bars.iter().map(|b| b.1).max().unwrap_or(0);
    let top = top.saturating_add(top / 5).saturating_add(1);
    let widest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0);
    let label_area = (widest as u32 * 8 + 16).clamp(60, 220);
    let height = 60 + 34 * n as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0u64..top, 0f64..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(desc)
            .max_light_lines(2)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 16))
            .draw()?;
        // Row i from the top sits at y = n - 1 - i.
        let row = |i: usize| (n - 1 - i) as f64;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            Rectangle::new([(0, row(i) + 0.15), (b.1, row(i) + 0.85)], b.2.filled())
        }))?;
        let left = TextStyle::from((FONT, 16).into_font())
            .color(&INK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let right = TextStyle::from((FONT, 15).into_font())
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, b) in bars.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(0, row(i) + 0.5));
            root.draw(&Text::new(b.0.clone(), (x - 8, y), left.clone()))?;
            let (x, y) = chart.backend_coord(&(b.1, row(i) + 0.5));
            root.draw(&Text::new(b.3.clone(), (x + 6, y), right.clone()))?;
        }
        root.present()?;
    }
    Ok(buf)
}

/// Time spent in each stage by the deals that left it: median and p90 bars, in days.
pub(super) fn time_in_stage(stages: &[StageNumbers]) -> Drawn {
    let days = |s: Option<i64>| s.map(|s| s.max(0) as f64 / 86_400.0);
    let n = stages.len().max(1);
    let top = stages
        .iter()
        .flat_map(|s| [days(s.p90_seconds), days(s.median_seconds)])
        .flatten()
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("days in the stage")
            .y_label_formatter(&|d| format!("{d:.0}d"))
            .max_light_lines(2)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 16))
            .draw()?;
        for (pick, color, offset, name) in [(0, MEDIAN, 0.1, "median"), (1, P90, 0.5, "p90")] {
            let value = |s: &StageNumbers| {
                days(if pick == 0 {
                    s.median_seconds
                } else {
                    s.p90_seconds
                })
            };
            chart
                .draw_series(stages.iter().enumerate().filter_map(|(i, s)| {
                    let x = i as f64 + offset;
                    value(s).map(|d| Rectangle::new([(x, 0.0), (x + 0.4, d)], color.filled()))
                }))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled())
                });
        }
        legend(&mut chart)?;
        let below = below();
        for (i, s) in stages.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let label = clean(&s.name, 14);
            let label = if s.median_seconds.is_none() {
                format!("{label} (-)")
            } else {
                label
            };
            root.draw(&Text::new(label, (x, y + 8), below.clone()))?;
        }
        root.present()?;
    }
    Ok(buf)
}
