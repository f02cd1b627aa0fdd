//! The closed unit table of docs/language.md: suffix -> (dimension, factor to the base
//! unit). Quantities are stored in base units (bytes, seconds, hertz, watts, joules,
//! metres, square metres, degrees Celsius, volts).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
    Bytes,
    Time,
    Freq,
    Power,
    Energy,
    Length,
    Area,
    Temp,
    Voltage,
}

impl Dim {
    pub const ALL: [Dim; 9] = [
        Dim::Bytes,
        Dim::Time,
        Dim::Freq,
        Dim::Power,
        Dim::Energy,
        Dim::Length,
        Dim::Area,
        Dim::Temp,
        Dim::Voltage,
    ];

    /// The type name users write (`param glb: bytes = 128KiB`).
    pub fn type_name(self) -> &'static str {
        match self {
            Dim::Bytes => "bytes",
            Dim::Time => "time",
            Dim::Freq => "freq",
            Dim::Power => "power",
            Dim::Energy => "energy",
            Dim::Length => "length",
            Dim::Area => "area",
            Dim::Temp => "temp",
            Dim::Voltage => "voltage",
        }
    }

    pub fn from_type_name(name: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.type_name() == name)
    }

    /// The base unit's suffix, used when printing a quantity back.
    pub fn base_unit(self) -> &'static str {
        match self {
            Dim::Bytes => "B",
            Dim::Time => "s",
            Dim::Freq => "Hz",
            Dim::Power => "W",
            Dim::Energy => "J",
            Dim::Length => "m",
            Dim::Area => "m2",
            Dim::Temp => "degC",
            Dim::Voltage => "V",
        }
    }
}

/// Every unit suffix: (suffix, dimension, factor to the base unit).
pub const UNITS: &[(&str, Dim, f64)] = &[
    ("B", Dim::Bytes, 1.0),
    ("KB", Dim::Bytes, 1e3),
    ("MB", Dim::Bytes, 1e6),
    ("GB", Dim::Bytes, 1e9),
    ("KiB", Dim::Bytes, 1024.0),
    ("MiB", Dim::Bytes, 1048576.0),
    ("GiB", Dim::Bytes, 1073741824.0),
    ("b", Dim::Bytes, 0.125),
    ("ns", Dim::Time, 1e-9),
    ("us", Dim::Time, 1e-6),
    ("ms", Dim::Time, 1e-3),
    ("s", Dim::Time, 1.0),
    ("min", Dim::Time, 60.0),
    ("h", Dim::Time, 3600.0),
    ("Hz", Dim::Freq, 1.0),
    ("kHz", Dim::Freq, 1e3),
    ("MHz", Dim::Freq, 1e6),
    ("GHz", Dim::Freq, 1e9),
    ("uW", Dim::Power, 1e-6),
    ("mW", Dim::Power, 1e-3),
    ("W", Dim::Power, 1.0),
    ("pJ", Dim::Energy, 1e-12),
    ("nJ", Dim::Energy, 1e-9),
    ("uJ", Dim::Energy, 1e-6),
    ("mJ", Dim::Energy, 1e-3),
    ("J", Dim::Energy, 1.0),
    ("nm", Dim::Length, 1e-9),
    ("um", Dim::Length, 1e-6),
    ("mm", Dim::Length, 1e-3),
    ("um2", Dim::Area, 1e-12),
    ("mm2", Dim::Area, 1e-6),
    ("degC", Dim::Temp, 1.0),
    ("mV", Dim::Voltage, 1e-3),
    ("V", Dim::Voltage, 1.0),
];

/// Looks a suffix up exactly (units are case-sensitive: `b` is a bit, `B` a byte).
pub fn lookup(suffix: &str) -> Option<(Dim, f64)> {
    UNITS
        .iter()
        .find(|(s, _, _)| *s == suffix)
        .map(|&(_, d, f)| (d, f))
}

/// The closest known suffix, for "did you mean" help on an unknown unit.
pub fn suggest(suffix: &str) -> Option<&'static str> {
    crate::suggest::closest(suffix, UNITS.iter().map(|(s, _, _)| *s))
}
