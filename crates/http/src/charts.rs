//! Bar charts of the console's sales page, drawn on the server as inline SVG (through the
//! template `console/bar_chart.html`): no script, no library, nothing from elsewhere.

/// One bar.
pub struct Bar {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
    /// Which series (a CSS class: `s0`, `s1`).
    pub series: usize,
    /// Its value as shown on hover.
    pub title: String,
}

/// A label under the axis.
pub struct Tick {
    /// Centre.
    pub x: f64,
    /// Text.
    pub text: String,
}

/// A bar chart of one or two series over categories (days, courses).
pub struct BarChart {
    /// Id of the `<svg>` (for tests and the browser check).
    pub id: &'static str,
    /// Title.
    pub title: String,
    /// Names of the series.
    pub legend: Vec<String>,
    /// Width of the view box.
    pub width: f64,
    /// Height of the view box.
    pub height: f64,
    /// The bars.
    pub bars: Vec<Bar>,
    /// Category labels (some skipped when there are many).
    pub ticks: Vec<Tick>,
    /// The largest value, as shown at the top of the axis.
    pub max_label: String,
    /// Nothing to draw.
    pub empty: bool,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 12.0;

impl BarChart {
    /// A chart of `series` (each a name and one value per category) over `categories`;
    /// `fmt` writes a value.
    pub fn new(
        id: &'static str,
        title: &str,
        categories: &[String],
        series: &[(String, Vec<f64>)],
        fmt: impl Fn(f64) -> String,
    ) -> Self {
        let max = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0_f64, f64::max);
        let n = categories.len().max(1);
        let plot_w = WIDTH - LEFT - 8.0;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let slot = plot_w / n as f64;
        let per = series.len().max(1) as f64;
        let bar_w = (slot * 0.8 / per).max(1.0);
        let mut bars = Vec::new();
        for (s, (name, values)) in series.iter().enumerate() {
            for (i, v) in values.iter().enumerate() {
                let h = if max > 0.0 { v / max * plot_h } else { 0.0 };
                bars.push(Bar {
                    x: LEFT + slot * i as f64 + slot * 0.1 + bar_w * s as f64,
                    y: TOP + plot_h - h,
                    w: bar_w,
                    h,
                    series: s,
                    title: format!(
                        "{} · {}: {}",
                        categories.get(i).map_or("", String::as_str),
                        name,
                        fmt(*v)
                    ),
                });
            }
        }
        let every = n.div_ceil(12);
        let ticks = categories
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, c)| Tick { x: LEFT + slot * (i as f64 + 0.5), text: c.chars().take(12).collect() })
            .collect();
        BarChart {
            id,
            title: title.to_owned(),
            legend: series.iter().map(|(n, _)| n.clone()).collect(),
            width: WIDTH,
            height: HEIGHT,
            bars,
            ticks,
            max_label: fmt(max),
            empty: categories.is_empty() || max <= 0.0,
        }
    }

    /// The y of the axis line.
    pub fn axis_y(&self) -> f64 {
        HEIGHT - BOTTOM
    }

    /// The x of the axis line.
    pub fn axis_x(&self) -> f64 {
        LEFT
    }

    /// The y of the tick labels.
    pub fn label_y(&self) -> f64 {
        HEIGHT - BOTTOM + 16.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value() {
        let days = vec!["11-01".to_owned(), "11-02".to_owned()];
        let chart = BarChart::new(
            "c",
            "t",
            &days,
            &[("a".into(), vec![50.0, 100.0]), ("b".into(), vec![0.0, 25.0])],
            |v| format!("{v}"),
        );
        assert_eq!(chart.bars.len(), 4);
        let tallest = chart.bars.iter().map(|b| b.h).fold(0.0, f64::max);
        assert!((tallest - (HEIGHT - TOP - BOTTOM)).abs() < 1e-9);
        assert!((chart.bars[0].h * 2.0 - tallest).abs() < 1e-9, "half the value, half the height");
        assert_eq!(chart.bars[2].h, 0.0);
        assert!(!chart.empty && chart.max_label == "100");
        assert!(BarChart::new("c", "t", &[], &[], |v| format!("{v}")).empty);
    }
}
