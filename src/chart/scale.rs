//! The value axis: a range that holds zero and every value, cut at round steps (1, 2 or 5 times
//! a power of ten), and short tick labels (`1.5k`, `2M`). Any finite values work, up to ±f64::MAX.

/// A value axis from `low` to `high`, a tick every `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub low: f64,
    pub high: f64,
    pub step: f64,
}

impl Scale {
    /// The axis for values from `min` to `max` (finite; zero is always on the axis).
    pub fn new(min: f64, max: f64) -> Scale {
        let (min, max) = (min.min(0.0), max.max(0.0));
        if min == max {
            return Scale {
                low: 0.0,
                high: 1.0,
                step: 0.2,
            };
        }
        // Halved, so that the span of -f64::MAX..f64::MAX is finite too.
        let span = max / 2.0 - min / 2.0;
        let raw = span / 2.5;
        let power = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * power)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * power);
        let low = (min / step).floor() * step;
        let high = (max / step).ceil() * step;
        if !(low.is_finite() && high.is_finite() && step.is_finite() && step > 0.0) {
            return Scale {
                low: min,
                high: max,
                step: span / 2.5,
            };
        }
        Scale { low, high, step }
    }

    /// Where `v` is between `low` (0) and `high` (1).
    pub fn fraction(&self, v: f64) -> f64 {
        (v / 2.0 - self.low / 2.0) / (self.high / 2.0 - self.low / 2.0)
    }

    /// The ticks from `low` to `high`.
    pub fn ticks(&self) -> Vec<f64> {
        let count = ((self.high / 2.0 - self.low / 2.0) / (self.step / 2.0)).round();
        let count = if count.is_finite() {
            count.clamp(1.0, 20.0) as usize
        } else {
            1
        };
        (0..=count)
            .map(|i| {
                let t = self.low + self.step * i as f64;
                if !t.is_finite() || i == count {
                    self.high
                } else if t.abs() < self.step * 1e-9 {
                    0.0
                } else {
                    t
                }
            })
            .collect()
    }

    /// A tick's label: short, with as many decimals as the step needs.
    pub fn label(&self, v: f64) -> String {
        const SUFFIXES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
        // One suffix for every tick of the axis.
        let magnitude = self.low.abs().max(self.high.abs());
        if magnitude >= 1e15 {
            return format!("{v:.1e}");
        }
        let (divisor, suffix) = SUFFIXES
            .into_iter()
            .find(|(d, _)| magnitude >= *d)
            .unwrap_or((1.0, ""));
        let step = self.step / divisor;
        let decimals = if step >= 1.0 {
            0
        } else {
            (-step.log10().floor()).clamp(0.0, 9.0) as usize
        };
        let text = format!("{:.*}", decimals, v / divisor);
        if text
            .trim_start_matches('-')
            .trim_matches(['0', '.'])
            .is_empty()
        {
            return "0".to_string();
        }
        format!("{text}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::Scale;

    #[test]
    fn ranges_hold_zero_and_every_value() {
        let s = Scale::new(0.0, 7.0);
        assert_eq!((s.low, s.high, s.step), (0.0, 8.0, 2.0));
        assert_eq!(s.ticks(), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        let s = Scale::new(-3.0, 12.0);
        assert!(s.low <= -3.0 && s.high >= 12.0, "{s:?}");
        assert!(s.fraction(0.0) > 0.0);
        // One value, all zero, all negative.
        assert_eq!(Scale::new(0.0, 0.0).ticks().len(), 6);
        let s = Scale::new(-1.0, -1.0);
        assert!(s.low <= -1.0 && s.high == 0.0, "{s:?}");
    }

    #[test]
    fn extreme_values_stay_finite() {
        for (min, max) in [
            (0.0, 1e20),
            (-f64::MAX, f64::MAX),
            (0.0, f64::MAX),
            (1e-300, 2e-300),
            (0.0, f64::MIN_POSITIVE),
        ] {
            let s = Scale::new(min, max);
            assert!(
                s.low.is_finite() && s.high.is_finite() && s.step > 0.0,
                "{s:?}"
            );
            assert!(s.low <= min.min(0.0) && s.high >= max.max(0.0), "{s:?}");
            for v in [min, max] {
                let f = s.fraction(v);
                assert!((0.0..=1.0).contains(&f), "{min} {max}: {f}");
            }
            let ticks = s.ticks();
            assert!(ticks.len() >= 2 && ticks.len() <= 21, "{ticks:?}");
            assert!(ticks.iter().all(|t| t.is_finite()));
            for t in ticks {
                assert!(!s.label(t).is_empty());
            }
        }
    }

    #[test]
    fn labels_are_short() {
        let s = Scale::new(0.0, 1_149_390.0);
        let labels: Vec<String> = s.ticks().iter().map(|t| s.label(*t)).collect();
        assert_eq!(labels, ["0", "0.5M", "1.0M", "1.5M"]);
        let s = Scale::new(0.0, 0.278);
        let labels: Vec<String> = s.ticks().iter().map(|t| s.label(*t)).collect();
        assert_eq!(labels, ["0", "0.1", "0.2", "0.3"]);
        let s = Scale::new(0.0, 1e20);
        assert_eq!(s.label(1e20), "1.0e20");
        assert_eq!(Scale::new(-10.0, 0.0).label(-10.0), "-10");
    }
}
