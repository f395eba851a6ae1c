//! Kubernetes quantities (`500m`, `64Mi`, `1.5Gi`, `1e3`) parsed exactly enough to compare them.

use std::cmp::Ordering;

use serde_json::Value;

/// A parsed quantity: `mantissa × 10^exp10 × 2^exp2`, plus an `f64` approximation used only
/// when the exact comparison would overflow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    mantissa: i128,
    exp10: i32,
    exp2: u32,
    approx: f64,
}

impl Quantity {
    /// Parses Kubernetes quantity syntax (`<sign><number><suffix>`); `None` when it is not one.
    pub fn parse(text: &str) -> Option<Quantity> {
        let text = text.trim();
        let (negative, rest) = match text.as_bytes().first()? {
            b'+' => (false, &text[1..]),
            b'-' => (true, &text[1..]),
            _ => (false, text),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return None;
        }
        let (exp10, exp2) = match suffix {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            _ => {
                let exponent = suffix.strip_prefix(['e', 'E'])?;
                let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (exponent.parse::<i32>().ok()?, 0)
            }
        };
        let mut mantissa: Option<i128> = Some(0);
        for b in int_part.bytes().chain(frac_part.bytes()) {
            mantissa = mantissa
                .and_then(|m| m.checked_mul(10))
                .and_then(|m| m.checked_add(i128::from(b - b'0')));
        }
        let frac_len = i32::try_from(frac_part.len()).ok()?;
        let sign = if negative { -1 } else { 1 };
        let (mantissa, exp10, approx) = match mantissa {
            Some(m) => {
                let exp10 = exp10.checked_sub(frac_len)?;
                let approx = (sign * m) as f64 * 10f64.powi(exp10) * 2f64.powi(exp2 as i32);
                (sign * m, exp10, approx)
            }
            // Too many digits for exact arithmetic: compare by the approximation only.
            None => {
                let approx = format!("{int_part}.{frac_part}0e{exp10}")
                    .parse::<f64>()
                    .ok()?
                    * 2f64.powi(exp2 as i32)
                    * sign as f64;
                (0, i32::MIN, approx)
            }
        };
        Some(Quantity {
            mantissa,
            exp10,
            exp2,
            approx,
        })
    }

    /// A JSON number or quantity string as a quantity.
    pub fn from_json(value: &Value) -> Option<Quantity> {
        match value {
            Value::String(s) => Quantity::parse(s),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(Quantity {
                    mantissa: i128::from(i),
                    exp10: 0,
                    exp2: 0,
                    approx: i as f64,
                }),
                None => Quantity::parse(&n.to_string()),
            },
            _ => None,
        }
    }

    fn exact(&self, scale_to: i32) -> Option<i128> {
        if self.exp10 == i32::MIN {
            return None;
        }
        let shift = u32::try_from(self.exp10.checked_sub(scale_to)?).ok()?;
        self.mantissa
            .checked_mul(10i128.checked_pow(shift)?)?
            .checked_mul(1i128.checked_shl(self.exp2)?)
    }

    /// Orders two quantities by value (`500m` < `1`, `64Mi` < `1Gi`).
    pub fn compare(&self, other: &Quantity) -> Ordering {
        let scale = self.exp10.min(other.exp10);
        match (self.exact(scale), other.exact(scale)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self
                .approx
                .partial_cmp(&other.approx)
                .unwrap_or(Ordering::Equal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn millicores_compare_with_cores() {
        assert_eq!(q("500m").compare(&q("1")), Ordering::Less);
        assert_eq!(q("1000m").compare(&q("1")), Ordering::Equal);
        assert_eq!(q("1.5").compare(&q("1500m")), Ordering::Equal);
        assert_eq!(q("0.1").compare(&q("100m")), Ordering::Equal);
        assert_eq!(q("2").compare(&q("1999m")), Ordering::Greater);
    }

    #[test]
    fn binary_and_decimal_suffixes() {
        assert_eq!(q("64Mi").compare(&q("1Gi")), Ordering::Less);
        assert_eq!(q("1024Mi").compare(&q("1Gi")), Ordering::Equal);
        assert_eq!(q("1Gi").compare(&q("1G")), Ordering::Greater);
        assert_eq!(q("128974848").compare(&q("123Mi")), Ordering::Equal);
        assert_eq!(q("129e6").compare(&q("129M")), Ordering::Equal);
        assert_eq!(q("1E3").compare(&q("1k")), Ordering::Equal);
        assert_eq!(q("-1").compare(&q("0")), Ordering::Less);
        assert_eq!(q(".5").compare(&q("500m")), Ordering::Equal);
        assert_eq!(q("1Ei").compare(&q("1E")), Ordering::Greater);
    }

    #[test]
    fn json_numbers_are_quantities() {
        let three = Quantity::from_json(&json!(3)).unwrap();
        assert_eq!(three.compare(&q("3000m")), Ordering::Equal);
        let half = Quantity::from_json(&json!(0.5)).unwrap();
        assert_eq!(half.compare(&q("500m")), Ordering::Equal);
        assert!(Quantity::from_json(&json!(true)).is_none());
    }

    #[test]
    fn non_quantities_are_rejected() {
        for s in [
            "",
            "abc",
            "1.2.3",
            "Mi",
            "5x",
            "1e",
            "1ee3",
            "nginx:1.14",
            "1 Gi",
            ".",
        ] {
            assert!(Quantity::parse(s).is_none(), "{s} should not parse");
        }
    }

    #[test]
    fn huge_values_fall_back_to_approximation() {
        let big = q("123456789012345678901234567890123456789012");
        assert_eq!(big.compare(&q("1")), Ordering::Greater);
        assert_eq!(q("900Ei").compare(&q("1")), Ordering::Greater);
    }
}
