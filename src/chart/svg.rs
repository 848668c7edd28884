//! Draws a chart as inline SVG for the HTML report. Our own small writer rather than plotters:
//! plotters' SVG backend writes every colour as a literal (`fill="#000000"` on a white
//! rectangle), so a page cannot turn it dark or print it in its own colours, and it has no
//! place for the `<title>`, `<desc>` and per-value titles a screen reader reads, nor a group
//! per series a test can count. Here text and axes are `currentColor`, each series is a
//! `<g class="series sN">` whose colour the page's CSS sets (light, dark, print), and every
//! value has its own `<title>`. Text is SVG `<text>` in the page's font; no font file is read.

use std::fmt::Write;

use super::data::Data;
use super::scale::Scale;
use super::{Chart, Kind};

/// The colours the page's CSS defines (`.s0` … `.s7`); more series reuse them.
pub const PALETTE: usize = 8;

const WIDTH: f64 = 760.0;
const PLOT_HEIGHT: f64 = 240.0;
const FONT: f64 = 12.0;
/// The width of a character of the 12px sans-serif text, on average; labels are laid out by it.
const CHAR: f64 = 6.8;
/// A category label longer than this is cut, with `…` (its `<title>` holds it whole).
const LABEL_CHARS: usize = 24;
/// A legend's label longer than this is cut (legends wrap, so they may be longer).
const KEY_CHARS: usize = 40;

/// Escapes text for HTML and SVG, in text and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR
}

fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit - 1).collect();
    out.push('…');
    out
}

/// A number as a value's title shows it: as the CSV does.
fn value_text(v: f64) -> String {
    super::data::text(&crate::engine::Value::Real(v))
}

/// Where the parts of a chart go.
struct Layout {
    height: f64,
    left: f64,
    plot_top: f64,
    plot_width: f64,
    band: f64,
    /// Category labels turned 45°, for long or many labels.
    slanted: bool,
    /// Every how many categories a label is written.
    label_every: usize,
    legend: Vec<(f64, f64)>,
}

impl Layout {
    fn new(chart: &Chart, data: &Data, scale: &Scale) -> Layout {
        // The legend, in rows under the title.
        let mut legend = Vec::new();
        let (mut x, mut y) = (16.0, 44.0);
        for s in &data.series {
            let w = 26.0 + width(&cut(&s.name, KEY_CHARS)) + 18.0;
            if x + w > WIDTH - 16.0 && x > 16.0 {
                x = 16.0;
                y += 18.0;
            }
            legend.push((x, y));
            x += w;
        }
        let plot_top = y + 22.0;
        let tick_width = scale
            .ticks()
            .iter()
            .map(|t| width(&scale.label(*t)))
            .fold(0.0, f64::max);
        let y_title = chart.unit.is_some() || chart.y.len() == 1;
        let mut left = 12.0 + if y_title { 22.0 } else { 0.0 } + tick_width + 8.0;
        let n = data.categories.len().max(1);
        let label_width = data
            .categories
            .iter()
            .map(|c| width(&cut(c, LABEL_CHARS)))
            .fold(0.0, f64::max);
        let mut band = (WIDTH - 16.0 - left) / n as f64;
        let slanted = label_width > band - 6.0;
        if slanted {
            // The first label runs left of its category, down to the left edge at most.
            let reach = label_width * std::f64::consts::FRAC_1_SQRT_2 - band / 2.0 + 8.0;
            left = left.max(reach.min(WIDTH / 3.0));
            band = (WIDTH - 16.0 - left) / n as f64;
        }
        let needed = if slanted {
            FONT + 4.0
        } else {
            label_width + 8.0
        };
        let label_every = (needed / band).ceil().max(1.0) as usize;
        let labels_height = if slanted {
            label_width * std::f64::consts::FRAC_1_SQRT_2 + FONT + 6.0
        } else {
            FONT + 10.0
        };
        Layout {
            height: plot_top + PLOT_HEIGHT + labels_height + 30.0,
            left,
            plot_top,
            plot_width: WIDTH - 16.0 - left,
            band,
            slanted,
            label_every,
            legend,
        }
    }

    fn y(&self, scale: &Scale, v: f64) -> f64 {
        self.plot_top + PLOT_HEIGHT * (1.0 - scale.fraction(v))
    }

    fn bottom(&self) -> f64 {
        self.plot_top + PLOT_HEIGHT
    }
}

/// The value axis for the chart's values (stacks add up).
fn scale(chart: &Chart, data: &Data) -> Scale {
    let (mut min, mut max) = (0.0f64, 0.0f64);
    if chart.kind == Kind::StackedBar {
        for c in 0..data.categories.len() {
            let (mut up, mut down) = (0.0f64, 0.0f64);
            for s in &data.series {
                match s.values[c] {
                    Some(v) if v >= 0.0 => up += v,
                    Some(v) => down += v,
                    None => {}
                }
            }
            (min, max) = (min.min(down), max.max(up));
        }
    } else {
        for v in data.series.iter().flat_map(|s| s.values.iter().flatten()) {
            (min, max) = (min.min(*v), max.max(*v));
        }
    }
    // A stack of values near f64::MAX adds up past it.
    Scale::new(min.max(-f64::MAX), max.min(f64::MAX))
}

/// The chart as an `<svg>` element; `id` is unique in the page.
pub fn render(chart: &Chart, data: &Data, id: &str) -> String {
    let scale = scale(chart, data);
    let layout = Layout::new(chart, data, &scale);
    let title = chart.title();
    let unit = chart.unit.as_deref().unwrap_or("");
    let mut out = String::new();
    let (w, h) = (WIDTH, layout.height.round());
    let _ = write!(
        out,
        r#"<svg class="chart" data-kind="{}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc" font-size="{FONT}">"#,
        chart.kind.name()
    );
    let names: Vec<&str> = data.series.iter().map(|s| s.name.as_str()).collect();
    let _ = write!(
        out,
        r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{} chart of {}{} by {}: {} values of {} series.</desc>"#,
        escape(&title),
        match chart.kind {
            Kind::Line => "Line",
            Kind::Bar => "Bar",
            Kind::StackedBar => "Stacked bar",
        },
        escape(&names.join(", ")),
        if unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", escape(unit))
        },
        escape(&chart.x.name),
        data.categories.len(),
        data.series.len()
    );
    let _ = write!(
        out,
        r#"<text class="title" x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold" fill="currentColor">{}</text>"#,
        WIDTH / 2.0,
        escape(&title)
    );
    legend(&mut out, chart, data, &layout);
    axes(&mut out, chart, data, &layout, &scale);
    for (i, s) in data.series.iter().enumerate() {
        let _ = write!(
            out,
            r#"<g class="series s{}" data-series="{}">"#,
            i % PALETTE,
            escape(&s.name)
        );
        match chart.kind {
            Kind::Line => line(&mut out, chart, data, i, &layout, &scale),
            Kind::Bar | Kind::StackedBar => bars(&mut out, chart, data, i, &layout, &scale),
        }
        out.push_str("</g>");
    }
    if data.is_empty() {
        let _ = write!(
            out,
            r#"<text class="empty" x="{}" y="{}" text-anchor="middle" fill="currentColor">no values to draw</text>"#,
            layout.left + layout.plot_width / 2.0,
            layout.plot_top + PLOT_HEIGHT / 2.0
        );
    }
    out.push_str("</svg>");
    out
}

fn legend(out: &mut String, chart: &Chart, data: &Data, layout: &Layout) {
    out.push_str(r#"<g class="legend">"#);
    for (i, (s, (x, y))) in data.series.iter().zip(&layout.legend).enumerate() {
        let _ = write!(out, r#"<g class="key s{}">"#, i % PALETTE);
        if chart.kind == Kind::Line {
            let _ = write!(
                out,
                r#"<path class="line" d="M{x} {y}h20" fill="none" stroke="currentColor" stroke-width="2"/>"#
            );
        } else {
            let _ = write!(
                out,
                r#"<rect x="{}" y="{}" width="14" height="12" fill="currentColor"/>"#,
                x + 3.0,
                y - 6.0
            );
        }
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" dy="0.35em" class="label">{}<title>{}</title></text></g>"#,
            x + 26.0,
            y,
            escape(&cut(&s.name, KEY_CHARS)),
            escape(&s.name)
        );
    }
    out.push_str("</g>");
}

fn axes(out: &mut String, chart: &Chart, data: &Data, layout: &Layout, scale: &Scale) {
    let (left, right) = (layout.left, layout.left + layout.plot_width);
    out.push_str(r#"<g class="axis y" fill="currentColor">"#);
    for t in scale.ticks() {
        let y = layout.y(scale, t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="currentColor"/><text x="{}" y="{y:.1}" dy="0.35em" text-anchor="end">{}</text>"#,
            left - 6.0,
            escape(&scale.label(t))
        );
    }
    let y_title = match (&chart.unit, chart.y.as_slice()) {
        (Some(unit), _) => Some(unit.clone()),
        (None, [only]) => Some(only.name.clone()),
        _ => None,
    };
    if let Some(text) = y_title {
        let mid = layout.plot_top + PLOT_HEIGHT / 2.0;
        let _ = write!(
            out,
            r#"<text class="axis-title" x="16" y="{mid}" text-anchor="middle" transform="rotate(-90 16 {mid})" dy="0.35em">{}</text>"#,
            escape(&text)
        );
    }
    out.push_str("</g>");
    let zero = layout.y(scale, 0.0);
    let _ = write!(
        out,
        r#"<g class="axis x" fill="currentColor"><line x1="{left}" x2="{right}" y1="{zero:.1}" y2="{zero:.1}" stroke="currentColor"/>"#
    );
    let bottom = layout.bottom();
    for (c, category) in data.categories.iter().enumerate() {
        if c % layout.label_every != 0 {
            continue;
        }
        let x = left + layout.band * (c as f64 + 0.5);
        let y = bottom + FONT + 4.0;
        let label = escape(&cut(category, LABEL_CHARS));
        let whole = escape(category);
        if layout.slanted {
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{y:.1}" text-anchor="end" transform="rotate(-45 {x:.1} {y:.1})">{label}<title>{whole}</title></text>"#
            );
        } else {
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">{label}<title>{whole}</title></text>"#
            );
        }
    }
    let _ = write!(
        out,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
        left + layout.plot_width / 2.0,
        layout.height - 10.0,
        escape(chart.x_label.as_deref().unwrap_or(&chart.x.name))
    );
}

/// What a value's title says: `2026-04: 5 incidents`, with the series when there are several.
fn value_title(chart: &Chart, data: &Data, series: usize, category: usize, v: f64) -> String {
    let mut text = String::new();
    if data.series.len() > 1 {
        text.push_str(&data.series[series].name);
        text.push_str(", ");
    }
    text.push_str(&data.categories[category]);
    text.push_str(": ");
    text.push_str(&value_text(v));
    if let Some(unit) = &chart.unit {
        text.push(' ');
        text.push_str(unit);
    }
    escape(&text)
}

fn line(out: &mut String, chart: &Chart, data: &Data, i: usize, layout: &Layout, scale: &Scale) {
    let values = &data.series[i].values;
    let mut path = String::new();
    let mut joined = false;
    for (c, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let x = layout.left + layout.band * (c as f64 + 0.5);
                let y = layout.y(scale, *v);
                let _ = write!(path, "{}{x:.1} {y:.1}", if joined { "L" } else { "M" });
                joined = true;
            }
            // A gap: the line stops and starts again after it.
            None => joined = false,
        }
    }
    if !path.is_empty() {
        let _ = write!(
            out,
            r#"<path class="line" d="{path}" fill="none" stroke="currentColor" stroke-width="2"/>"#
        );
    }
    for (c, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let x = layout.left + layout.band * (c as f64 + 0.5);
            let y = layout.y(scale, *v);
            let _ = write!(
                out,
                r#"<circle class="point" cx="{x:.1}" cy="{y:.1}" r="3.5" fill="currentColor"><title>{}</title></circle>"#,
                value_title(chart, data, i, c, *v)
            );
        }
    }
}

fn bars(out: &mut String, chart: &Chart, data: &Data, i: usize, layout: &Layout, scale: &Scale) {
    let n = data.series.len() as f64;
    for (c, v) in data.series[i].values.iter().enumerate() {
        let Some(v) = *v else { continue };
        let band_left = layout.left + layout.band * c as f64;
        let (x, bar_width, from, to) = if chart.kind == Kind::StackedBar {
            // What the series before this one stacked at this category, on this side of zero.
            let below: f64 = data.series[..i]
                .iter()
                .filter_map(|s| s.values[c])
                .filter(|b| (*b >= 0.0) == (v >= 0.0))
                .sum();
            let w = layout.band * 0.7;
            (band_left + layout.band * 0.15, w, below, below + v)
        } else {
            let w = layout.band * 0.8 / n;
            (band_left + layout.band * 0.1 + w * i as f64, w, 0.0, v)
        };
        let (y0, y1) = (layout.y(scale, from), layout.y(scale, to));
        let _ = write!(
            out,
            r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="currentColor"><title>{}</title></rect>"#,
            y0.min(y1),
            (bar_width - 1.0).max(1.0),
            (y0 - y1).abs(),
            value_title(chart, data, i, c, v)
        );
    }
}
