//! The checked schema: every name resolved, every rule verified. This is
//! what the generator and the compatibility checker read.

use crate::span::{FileId, Span};

/// Index of a declaration in [`Schema::defs`].
pub type DefId = usize;

/// A whole checked schema: the root files and everything they import.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Packages, in the order first seen.
    pub packages: Vec<Package>,
    /// Every declaration of every package.
    pub defs: Vec<Def>,
}

impl Schema {
    /// The package named `name`.
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// The declaration `name` of package `package`.
    pub fn find(&self, package: &str, name: &str) -> Option<&Def> {
        let p = self.packages.iter().position(|p| p.name == package)?;
        self.defs.iter().find(|d| d.package == p && d.name == name)
    }

    /// The index of declaration `name` of package `package`.
    pub fn find_id(&self, package: &str, name: &str) -> Option<DefId> {
        let p = self.packages.iter().position(|p| p.name == package)?;
        self.defs.iter().position(|d| d.package == p && d.name == name)
    }

    /// `package.Name` of a declaration.
    pub fn qualified(&self, def: DefId) -> String {
        match self.defs.get(def) {
            Some(d) => format!("{}.{}", self.packages.get(d.package).map_or("", |p| p.name.as_str()), d.name),
            None => String::from("?"),
        }
    }

    /// Whether a stream is inside `ty`, directly or through a declaration
    /// that holds one ([`Def::streams`]; not through `ref`: an object is
    /// not its data; nor through `sender`: its items are sent by the peer).
    pub fn holds_stream(&self, ty: &Ty) -> bool {
        match ty {
            Ty::Stream(_) => true,
            Ty::List(t) | Ty::Option(t) | Ty::Box(t) => self.holds_stream(t),
            Ty::Map(k, v) => self.holds_stream(k) || self.holds_stream(v),
            Ty::Def(d) => self.defs.get(*d).is_some_and(|d| d.streams),
            Ty::Prim(_) | Ty::Unit | Ty::Ref(_) | Ty::Sender(_) | Ty::Invalid => false,
        }
    }

    /// Whether a sender is inside `ty`, directly (a stream's items
    /// included) or through a declaration that holds one
    /// ([`Def::senders`]; not through `ref`).
    pub fn holds_sender(&self, ty: &Ty) -> bool {
        match ty {
            Ty::Sender(_) => true,
            Ty::List(t) | Ty::Option(t) | Ty::Box(t) | Ty::Stream(t) => self.holds_sender(t),
            Ty::Map(k, v) => self.holds_sender(k) || self.holds_sender(v),
            Ty::Def(d) => self.defs.get(*d).is_some_and(|d| d.senders),
            Ty::Prim(_) | Ty::Unit | Ty::Ref(_) | Ty::Invalid => false,
        }
    }

    /// How a type is written in the schema language.
    pub fn display(&self, ty: &Ty) -> String {
        match ty {
            Ty::Prim(p) => p.name().to_string(),
            Ty::Unit => "()".into(),
            Ty::List(t) => format!("list<{}>", self.display(t)),
            Ty::Option(t) => format!("option<{}>", self.display(t)),
            Ty::Box(t) => format!("box<{}>", self.display(t)),
            Ty::Stream(t) => format!("stream<{}>", self.display(t)),
            Ty::Sender(t) => format!("sender<{}>", self.display(t)),
            Ty::Map(k, v) => format!("map<{}, {}>", self.display(k), self.display(v)),
            Ty::Ref(d) => format!("ref<{}>", self.qualified(*d)),
            Ty::Def(d) => self.qualified(*d),
            Ty::Invalid => "{invalid}".into(),
        }
    }
}

/// One package: the declarations of every file that says `package name;`.
#[derive(Debug, Clone)]
pub struct Package {
    /// Dotted name.
    pub name: String,
    /// `//!` docs of its files.
    pub docs: Vec<String>,
    /// Files declaring it.
    pub files: Vec<FileId>,
    /// Its declarations, in source order.
    pub defs: Vec<DefId>,
    /// The span of its name in the first file that declares it (empty in a
    /// file without a package declaration).
    pub span: Span,
}

impl Package {
    /// The Rust module name: dots become underscores (`a.b` is `a_b`).
    pub fn module(&self) -> String {
        self.name.replace('.', "_")
    }

    /// The generated file's name: the package name as written, dots kept,
    /// with `.rs` (`a.b` is `a.b.rs`).
    pub fn file_name(&self) -> String {
        format!("{}.rs", self.name)
    }
}

/// One declaration.
#[derive(Debug, Clone)]
pub struct Def {
    /// Its name.
    pub name: String,
    /// Index into [`Schema::packages`].
    pub package: usize,
    /// `///` docs.
    pub docs: Vec<String>,
    /// The span of its name.
    pub span: Span,
    /// What it is.
    pub kind: DefKind,
    /// Whether `PartialEq` can be derived (no references inside).
    pub partial_eq: bool,
    /// Whether `Eq` can be derived as well (no floats either).
    pub eq: bool,
    /// Whether a stream is inside, directly or through other declarations.
    /// A stream is sent once, so such a type derives no `Clone`, cannot be
    /// re-sent (`@replay`, `@idempotent`) and cannot cross to Twisted.
    pub streams: bool,
    /// Whether a sender is inside, directly or through other declarations.
    /// Such a type cannot cross to Twisted; a sender can be cloned and sent
    /// again, so it derives `Clone` if nothing else prevents it.
    pub senders: bool,
}

/// What a declaration is.
#[derive(Debug, Clone)]
pub enum DefKind {
    /// A struct passed by copy.
    Record(Vec<Field>),
    /// An enum passed by copy.
    Enum(Vec<Variant>),
    /// An error enum: like an enum, plus messages and a `Pb` variant.
    Error(Vec<Variant>),
    /// A remote interface.
    Interface(Interface),
    /// A cached model: its state record and its event enum.
    Model {
        /// Name on the wire (`package.Name` unless `@name(...)`), checked when a cache arrives.
        wire_name: String,
        /// The state's fields.
        state: Vec<Field>,
        /// The change events.
        events: Vec<Variant>,
    },
}

impl DefKind {
    /// `record`, `enum`, `error`, `interface` or `model`.
    pub fn keyword(&self) -> &'static str {
        match self {
            DefKind::Record(_) => "record",
            DefKind::Enum(_) => "enum",
            DefKind::Error(_) => "error",
            DefKind::Interface(_) => "interface",
            DefKind::Model { .. } => "model",
        }
    }
}

/// A named, typed slot: record field, variant field, model state field, or argument.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// `///` docs.
    pub docs: Vec<String>,
    /// Its type.
    pub ty: Ty,
    /// The span of the name.
    pub span: Span,
    /// The span of the type.
    pub ty_span: Span,
}

/// A variant of an enum, error, or model events.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its name.
    pub name: String,
    /// `///` docs.
    pub docs: Vec<String>,
    /// Its data.
    pub payload: Payload,
    /// The error message (errors only; a default is filled in).
    pub message: Option<String>,
    /// The span of the name.
    pub span: Span,
}

/// A variant's data.
#[derive(Debug, Clone)]
pub enum Payload {
    /// None.
    Unit,
    /// Positional fields (their `name` is the position).
    Tuple(Vec<Field>),
    /// Named fields.
    Struct(Vec<Field>),
}

impl Payload {
    /// The fields, named or positional.
    pub fn fields(&self) -> &[Field] {
        match self {
            Payload::Unit => &[],
            Payload::Tuple(f) | Payload::Struct(f) => f,
        }
    }
}

/// A remote interface.
#[derive(Debug, Clone)]
pub struct Interface {
    /// Name on the wire (`package.Name` unless `@name(...)`).
    pub wire_name: String,
    /// Whether the wire name was given with `@name`.
    pub explicit_name: bool,
    /// Interface id on the wire.
    pub id: u64,
    /// Whether the id was given with `@id`.
    pub explicit_id: bool,
    /// The methods, in source order.
    pub methods: Vec<Method>,
}

/// A method of an interface.
#[derive(Debug, Clone)]
pub struct Method {
    /// Rust name.
    pub name: String,
    /// `///` docs.
    pub docs: Vec<String>,
    /// Name on the wire (the method name unless `@name(...)`).
    pub wire_name: String,
    /// Whether the wire name was given with `@name`.
    pub explicit_name: bool,
    /// Method id on the wire.
    pub id: u32,
    /// Whether the id was given with `@id`.
    pub explicit_id: bool,
    /// `@replay`
    pub replay: bool,
    /// `@idempotent`
    pub idempotent: bool,
    /// `@local`, with the value it returns.
    pub local: Option<Value>,
    /// Arguments.
    pub args: Vec<Field>,
    /// Result type ([`Ty::Unit`] when none).
    pub ret: Ty,
    /// Error type: an `error` declaration, or `None` for `pb::Error`.
    pub err: Option<DefId>,
    /// The method's span.
    pub span: Span,
}

/// A constant: what a `@local` method returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// A resolved type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// A built-in scalar.
    Prim(Prim),
    /// Nothing (a method without `->`).
    Unit,
    /// `list<T>`
    List(Box<Ty>),
    /// `map<K, V>`
    Map(Box<Ty>, Box<Ty>),
    /// `option<T>`
    Option(Box<Ty>),
    /// `box<T>`
    Box(Box<Ty>),
    /// `ref<Iface>`
    Ref(DefId),
    /// `stream<T>`: a sequence of `T`s sent by reference and pulled item by
    /// item (`pb::Stream<T>`).
    Stream(Box<Ty>),
    /// `sender<T>`: the sending half of a channel of `T`s, sent by
    /// reference; what the receiver sends comes out of the channel's stream
    /// on the sending side (`pb::Sender<T>`).
    Sender(Box<Ty>),
    /// A record, enum or error; for a model, a cache of it.
    Def(DefId),
    /// Did not resolve (an error was reported).
    Invalid,
}

impl Ty {
    /// Whether a reference is passed with a value of the type: anywhere in
    /// it, a stream's items included (not through other declarations, nor
    /// in a sender's items: the receiver sends those back).
    pub fn has_ref(&self) -> bool {
        match self {
            Ty::Ref(_) => true,
            Ty::List(t) | Ty::Option(t) | Ty::Box(t) | Ty::Stream(t) => t.has_ref(),
            Ty::Map(k, v) => k.has_ref() || v.has_ref(),
            _ => false,
        }
    }

    /// Whether a stream appears anywhere in the type (not through other
    /// declarations: see [`Schema::holds_stream`]; nor in a sender's items:
    /// the receiver sends those back).
    pub fn has_stream(&self) -> bool {
        match self {
            Ty::Stream(_) => true,
            Ty::List(t) | Ty::Option(t) | Ty::Box(t) => t.has_stream(),
            Ty::Map(k, v) => k.has_stream() || v.has_stream(),
            _ => false,
        }
    }
}

/// Built-in scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prim {
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
    /// `string`
    String,
    /// `bytes`
    Bytes,
}

impl Prim {
    /// Every scalar.
    pub const ALL: [Prim; 13] = [
        Prim::Bool,
        Prim::U8,
        Prim::U16,
        Prim::U32,
        Prim::U64,
        Prim::I8,
        Prim::I16,
        Prim::I32,
        Prim::I64,
        Prim::F32,
        Prim::F64,
        Prim::String,
        Prim::Bytes,
    ];

    /// The schema name.
    pub fn name(self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::I8 => "i8",
            Prim::I16 => "i16",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::String => "string",
            Prim::Bytes => "bytes",
        }
    }

    /// The scalar named `name`.
    pub fn from_name(name: &str) -> Option<Prim> {
        Prim::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The inclusive range of an integer type.
    pub fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
            Prim::U8 => (0, u8::MAX.into()),
            Prim::U16 => (0, u16::MAX.into()),
            Prim::U32 => (0, u32::MAX.into()),
            Prim::U64 => (0, u64::MAX.into()),
            Prim::I8 => (i8::MIN.into(), i8::MAX.into()),
            Prim::I16 => (i16::MIN.into(), i16::MAX.into()),
            Prim::I32 => (i32::MIN.into(), i32::MAX.into()),
            Prim::I64 => (i64::MIN.into(), i64::MAX.into()),
            _ => return None,
        })
    }
}
