//! Type descriptions: what a peer says of its methods' argument, result and
//! error types, so tools (the `pb` command) can encode calls and decode
//! replies without the Rust types.
//!
//! A [`TypeTable`] is the answer to a describe request of version 2 (see
//! [`ProxyHandle::describe_types`](crate::ProxyHandle::describe_types)); peers that predate it answer version 1
//! (names, ids and signature hashes only), and tools then need a schema.
//!
//! Types describe themselves through [`Describe`]: implemented here for the
//! scalars and std containers, derived with `#[derive(pb::Describe)]` for an
//! application's records and enums (schema-generated types derive it). A
//! type that does not implement it is described as [`TypeDesc::Opaque`] with
//! its Rust name: the method is listed, but a tool cannot build its values.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::wire::Blob;

/// The version of the type description this runtime writes.
pub const TYPES_VERSION: u8 = 2;

/// One type, as postcard encodes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TypeDesc {
    /// `()`: nothing on the wire.
    Unit,
    /// `bool`
    Bool,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// A UTF-8 string.
    String,
    /// A byte string (`Vec<u8>`, `Blob`, `Bytes`).
    Bytes,
    /// `Option<T>`
    Option(Box<TypeDesc>),
    /// A sequence (`Vec<T>`, sets).
    List(Box<TypeDesc>),
    /// A map.
    Map(Box<TypeDesc>, Box<TypeDesc>),
    /// A record or enum: an index into [`TypeTable::types`].
    Named(u32),
    /// A reference to an object of this interface.
    Ref(String),
    /// A cached model: its name, its state and its event types.
    Cache {
        /// The model's wire name.
        name: String,
        /// The state.
        state: Box<TypeDesc>,
        /// The events.
        event: Box<TypeDesc>,
    },
    /// A `pb::Error`.
    PbError,
    /// A type that does not describe itself: its Rust name.
    Opaque(String),
    /// A stream of items of this type (`pb::Stream<T>`).
    Stream(Box<TypeDesc>),
    /// The sending half of a channel of items of this type (`pb::Sender<T>`).
    Sender(Box<TypeDesc>),
}

/// A named record or enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedType {
    /// The Rust type's name (last path segment).
    pub name: String,
    /// Its fields or variants.
    pub shape: Shape,
}

/// What a named type holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// A struct: its fields in order (tuple structs name them `0`, `1`...).
    Record(Vec<FieldDesc>),
    /// A tuple struct's fields in order.
    Tuple(Vec<TypeDesc>),
    /// An enum: its variants in order.
    Enum(Vec<VariantDesc>),
}

/// A named field or argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDesc {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TypeDesc,
}

/// One enum variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariantDesc {
    /// `Name`
    Unit(String),
    /// `Name(T, U)`
    Tuple(String, Vec<TypeDesc>),
    /// `Name { a: T }`
    Struct(String, Vec<FieldDesc>),
}

/// The types of one method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodTypes {
    /// The method's wire id.
    pub id: u32,
    /// Its arguments.
    pub args: Vec<FieldDesc>,
    /// The success type.
    pub ok: TypeDesc,
    /// The error type.
    pub err: TypeDesc,
    /// `#[pb(replay)]`
    pub replay: bool,
    /// `#[pb(idempotent)]`
    pub idempotent: bool,
}

/// The types of an interface's methods, and the named types they use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeTable {
    /// One entry per remote method.
    pub methods: Vec<MethodTypes>,
    /// Records and enums, indexed by [`TypeDesc::Named`].
    pub types: Vec<NamedType>,
}

impl TypeTable {
    /// A table of `methods` and the named types collected in `cx`.
    pub fn new(methods: Vec<MethodTypes>, cx: TypeCx) -> Self {
        TypeTable { methods, types: cx.types }
    }
}

/// Collects named types while types describe themselves (each once, so
/// recursive types end).
#[derive(Debug, Default)]
pub struct TypeCx {
    types: Vec<NamedType>,
    index: HashMap<&'static str, u32>,
}

impl TypeCx {
    /// The description of named type `T`: registered once, its shape built
    /// by `shape` (which may refer to `T` again).
    pub fn named<T: ?Sized>(&mut self, name: &str, shape: impl FnOnce(&mut TypeCx) -> Shape) -> TypeDesc {
        let key = std::any::type_name::<T>();
        if let Some(i) = self.index.get(key) {
            return TypeDesc::Named(*i);
        }
        let i = u32::try_from(self.types.len()).unwrap_or(u32::MAX);
        self.index.insert(key, i);
        self.types.push(NamedType { name: name.to_string(), shape: Shape::Record(Vec::new()) });
        let shape = shape(self);
        self.types[i as usize].shape = shape;
        TypeDesc::Named(i)
    }
}

/// A type that can say how it looks on the wire. Derive it with
/// `#[derive(pb::Describe)]` on records and enums.
pub trait Describe {
    /// The description (named types are registered in `cx`).
    fn describe(cx: &mut TypeCx) -> TypeDesc;
}

macro_rules! scalar {
    ($($t:ty => $d:ident),*) => {$(
        impl Describe for $t {
            fn describe(_: &mut TypeCx) -> TypeDesc { TypeDesc::$d }
        }
    )*};
}
scalar!(() => Unit, bool => Bool, u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32,
    i64 => I64, f32 => F32, f64 => F64, String => String, Blob => Bytes, bytes::Bytes => Bytes, Error => PbError);

impl<T: Describe> Describe for Vec<T> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::List(Box::new(T::describe(cx)))
    }
}
impl<T: Describe> Describe for Option<T> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::Option(Box::new(T::describe(cx)))
    }
}
impl<T: Describe> Describe for Box<T> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        T::describe(cx)
    }
}
impl<T: Describe> Describe for Arc<T> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        T::describe(cx)
    }
}
impl<T: Describe, S> Describe for HashSet<T, S> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::List(Box::new(T::describe(cx)))
    }
}
impl<T: Describe> Describe for BTreeSet<T> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::List(Box::new(T::describe(cx)))
    }
}
impl<K: Describe, V: Describe, S> Describe for HashMap<K, V, S> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::Map(Box::new(K::describe(cx)), Box::new(V::describe(cx)))
    }
}
impl<K: Describe, V: Describe> Describe for BTreeMap<K, V> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::Map(Box::new(K::describe(cx)), Box::new(V::describe(cx)))
    }
}

/// Describes `T` if it implements [`Describe`], else as opaque (the
/// generated code's autoref probe: `(&Probe::<T>::new()).pb_describe(cx)`).
#[doc(hidden)]
pub struct Probe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> Probe<T> {
    /// A probe of `T`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Probe(PhantomData)
    }
}

/// The probe's first choice: `T: Describe`.
#[doc(hidden)]
pub trait DescribeKnown {
    /// The description.
    fn pb_describe(&self, cx: &mut TypeCx) -> TypeDesc;
}

impl<T: Describe> DescribeKnown for Probe<T> {
    fn pb_describe(&self, cx: &mut TypeCx) -> TypeDesc {
        T::describe(cx)
    }
}

/// The probe's fallback: opaque.
#[doc(hidden)]
pub trait DescribeOpaque {
    /// The description.
    fn pb_describe(&self, cx: &mut TypeCx) -> TypeDesc;
}

impl<T: ?Sized> DescribeOpaque for &Probe<T> {
    fn pb_describe(&self, _: &mut TypeCx) -> TypeDesc {
        let name = std::any::type_name::<T>();
        TypeDesc::Opaque(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursive_named_types_are_described_once() {
        struct Tree;
        impl Describe for Tree {
            fn describe(cx: &mut TypeCx) -> TypeDesc {
                cx.named::<Self>("Tree", |cx| {
                    Shape::Record(vec![FieldDesc { name: "children".into(), ty: Vec::<Tree>::describe(cx) }])
                })
            }
        }
        let mut cx = TypeCx::default();
        assert_eq!(Tree::describe(&mut cx), TypeDesc::Named(0));
        assert_eq!(cx.types.len(), 1);
        assert_eq!(
            cx.types[0].shape,
            Shape::Record(vec![FieldDesc {
                name: "children".into(),
                ty: TypeDesc::List(Box::new(TypeDesc::Named(0)))
            }])
        );
    }
}
