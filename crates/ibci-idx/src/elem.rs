//! The element types of IDX files: type code, size, name.
//!
//! Type codes: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.

use std::fmt;

/// The element type of an IDX file, from the third magic byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// 0x08, unsigned byte.
    U8,
    /// 0x09, signed byte.
    I8,
    /// 0x0B, 16-bit signed integer.
    I16,
    /// 0x0C, 32-bit signed integer.
    I32,
    /// 0x0D, IEEE 754 single precision.
    F32,
    /// 0x0E, IEEE 754 double precision.
    F64,
}

impl ElemType {
    /// All six types, in type-code order.
    pub const ALL: [ElemType; 6] = [
        ElemType::U8,
        ElemType::I8,
        ElemType::I16,
        ElemType::I32,
        ElemType::F32,
        ElemType::F64,
    ];

    /// The type for an IDX type code, or `None` for an unknown code.
    pub fn from_code(code: u8) -> Option<ElemType> {
        match code {
            0x08 => Some(ElemType::U8),
            0x09 => Some(ElemType::I8),
            0x0B => Some(ElemType::I16),
            0x0C => Some(ElemType::I32),
            0x0D => Some(ElemType::F32),
            0x0E => Some(ElemType::F64),
            _ => None,
        }
    }

    /// The IDX type code.
    pub fn code(self) -> u8 {
        match self {
            ElemType::U8 => 0x08,
            ElemType::I8 => 0x09,
            ElemType::I16 => 0x0B,
            ElemType::I32 => 0x0C,
            ElemType::F32 => 0x0D,
            ElemType::F64 => 0x0E,
        }
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            ElemType::U8 | ElemType::I8 => 1,
            ElemType::I16 => 2,
            ElemType::I32 | ElemType::F32 => 4,
            ElemType::F64 => 8,
        }
    }

    /// Lower-case Rust-style name (`u8`, `i16`, `f32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ElemType::U8 => "u8",
            ElemType::I8 => "i8",
            ElemType::I16 => "i16",
            ElemType::I32 => "i32",
            ElemType::F32 => "f32",
            ElemType::F64 => "f64",
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02x})", self.name(), self.code())
    }
}
