//! Resource quantities as `resource.Quantity` parses, compares and prints them (the
//! canonical `String()` form used in messages such as "must be less than or equal to cpu
//! limit of 500m").

use std::cmp::Ordering;

/// The suffix family a quantity was written in, which its canonical form keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    BinarySI,
    DecimalSI,
    DecimalExponent,
}

/// A parsed quantity: `value = mantissa * 10^-9` (rounded up to nano units, as Go does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Parses the quantity syntax (`<signedNumber><suffix>`); `None` if it is not one.
    pub fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let (neg, rest) = match s.as_bytes().first()? {
            b'-' => (true, s.get(1..)?),
            b'+' => (false, s.get(1..)?),
            _ => (false, s),
        };
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, suffix) = rest.split_at(num_end);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        let digits = format!("{int_part}{frac_part}");
        if digits.len() > 30 {
            return None;
        }
        let mantissa: i128 = digits.parse().ok()?;
        let mut exp10: i32 = -(frac_part.len() as i32);
        let (format, mul2): (Format, u32) = match suffix {
            "Ki" => (Format::BinarySI, 10),
            "Mi" => (Format::BinarySI, 20),
            "Gi" => (Format::BinarySI, 30),
            "Ti" => (Format::BinarySI, 40),
            "Pi" => (Format::BinarySI, 50),
            "Ei" => (Format::BinarySI, 60),
            "" => (Format::DecimalSI, 0),
            _ => {
                let e = match suffix {
                    "n" => -9,
                    "u" => -6,
                    "m" => -3,
                    "k" => 3,
                    "M" => 6,
                    "G" => 9,
                    "T" => 12,
                    "P" => 15,
                    "E" => 18,
                    _ => {
                        let t = suffix.strip_prefix(['e', 'E'])?;
                        let e: i32 = t.parse().ok()?;
                        exp10 = exp10.checked_add(e)?;
                        return Self::build(neg, mantissa, exp10, 0, Format::DecimalExponent);
                    }
                };
                exp10 += e;
                return Self::build(neg, mantissa, exp10, 0, Format::DecimalSI);
            }
        };
        Self::build(neg, mantissa, exp10, mul2, format)
    }

    fn build(neg: bool, mantissa: i128, exp10: i32, mul2: u32, format: Format) -> Option<Self> {
        // value in nanos = mantissa * 2^mul2 * 10^(exp10 + 9), rounded up (away from zero).
        let m = mantissa.checked_mul(1i128.checked_shl(mul2)?)?;
        let e = exp10 + 9;
        let nanos = if e >= 0 {
            m.checked_mul(10i128.checked_pow(e as u32)?)?
        } else {
            let d = 10i128.checked_pow((-e) as u32)?;
            let q = m / d;
            if m % d != 0 { q + 1 } else { q }
        };
        Some(Quantity {
            nanos: if neg { -nanos } else { nanos },
            format,
        })
    }

    /// `Quantity.Cmp`.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }

    /// `Quantity.MilliValue()`: the value in thousandths, rounded up.
    pub fn milli_value(&self) -> i128 {
        let q = self.nanos / 1_000_000;
        if self.nanos % 1_000_000 > 0 { q + 1 } else { q }
    }

    /// `Quantity.Value()`: the value in whole units, rounded up.
    pub fn value(&self) -> i128 {
        let q = self.nanos / NANO;
        if self.nanos % NANO > 0 { q + 1 } else { q }
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// `Quantity.String()`: the canonical form.
    pub fn canonical(&self) -> String {
        let mut format = self.format;
        if format == Format::BinarySI && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0)
        {
            format = Format::DecimalSI;
        }
        if self.nanos == 0 {
            return "0".to_string();
        }
        if format == Format::BinarySI {
            let mut v = self.nanos / NANO;
            let mut k = 0;
            while k < 6 && v % 1024 == 0 {
                v /= 1024;
                k += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
            return format!("{v}{suffix}");
        }
        // Decimal: largest exponent (multiple of 3, from -9) keeping an integer mantissa.
        let mut v = self.nanos;
        let mut exp = -9;
        while v % 1000 == 0 && exp < 18 {
            v /= 1000;
            exp += 3;
        }
        if format == Format::DecimalExponent {
            return if exp == 0 {
                format!("{v}")
            } else {
                format!("{v}e{exp}")
            };
        }
        let suffix = match exp {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => "",
        };
        format!("{v}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("2000", "2k"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("100M", "100M"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("-1", "-1"),
            ("128974848", "128974848"),
            ("512Ki", "512Ki"),
        ] {
            let q = Quantity::parse(input).map(|q| q.canonical());
            assert_eq!(q.as_deref(), Some(want), "{input}");
        }
        assert!(Quantity::parse("abc").is_none());
        let v = |s: &str| Quantity::parse(s).map(|q| (q.value(), q.milli_value()));
        assert_eq!(v("64Mi"), Some((67_108_864, 67_108_864_000)));
        assert_eq!(v("500m"), Some((1, 500)));
        assert_eq!(v("0.0001"), Some((1, 1)));
        assert_eq!(v("2"), Some((2, 2000)));
        let a = Quantity::parse("500m");
        let b = Quantity::parse("1");
        assert_eq!(a.zip(b).map(|(a, b)| a.cmp_value(&b)), Some(Ordering::Less));
    }
}
