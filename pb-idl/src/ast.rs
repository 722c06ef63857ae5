//! The syntax tree of one schema file, as written (nothing resolved yet).
//! Every node keeps its span and doc comments.

use crate::span::{FileId, Span};

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// One parsed `.pbidl` file.
#[derive(Debug, Clone)]
pub struct File {
    /// The file.
    pub file: FileId,
    /// `//!` lines.
    pub docs: Vec<String>,
    /// `package a.b;` (`None` if missing: an error is reported).
    pub package: Option<Package>,
    /// `import "..."` lines.
    pub imports: Vec<Import>,
    /// Declarations.
    pub items: Vec<Item>,
}

/// `package a.b;`
#[derive(Debug, Clone)]
pub struct Package {
    /// The dotted name.
    pub path: Vec<Ident>,
    /// The whole declaration's span.
    pub span: Span,
}

impl Package {
    /// `a.b`.
    pub fn name(&self) -> String {
        self.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".")
    }
}

/// `import "path.pbidl";`
#[derive(Debug, Clone)]
pub struct Import {
    /// The path as written.
    pub path: String,
    /// The span of the string.
    pub span: Span,
}

/// `@name` or `@name(literal)`.
#[derive(Debug, Clone)]
pub struct Attr {
    /// The attribute name.
    pub name: Ident,
    /// Its argument.
    pub arg: Option<Lit>,
    /// The whole attribute.
    pub span: Span,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum LitKind {
    /// `"text"`
    Str(String),
    /// A number as written.
    Number(String),
    /// `true` or `false`.
    Bool(bool),
}

/// A literal with its span.
#[derive(Debug, Clone)]
pub struct Lit {
    /// The value.
    pub kind: LitKind,
    /// Where it is.
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone)]
pub struct Item {
    /// `///` lines.
    pub docs: Vec<String>,
    /// `@...` attributes.
    pub attrs: Vec<Attr>,
    /// The declared name.
    pub name: Ident,
    /// The keyword's span (`record`, `interface`, ...).
    pub keyword: Span,
    /// What it declares.
    pub kind: ItemKind,
}

/// What a declaration declares.
#[derive(Debug, Clone)]
pub enum ItemKind {
    /// `record Name { fields }`
    Record(Vec<Field>),
    /// `enum Name { variants }`
    Enum(Vec<Variant>),
    /// `error Name { variants }`
    Error(Vec<Variant>),
    /// `interface Name [throws E] { methods }`
    Interface(Interface),
    /// `model Name { state { fields } events { variants } }`
    Model(Model),
}

impl ItemKind {
    /// The keyword that declares this kind.
    pub fn keyword(&self) -> &'static str {
        match self {
            ItemKind::Record(_) => "record",
            ItemKind::Enum(_) => "enum",
            ItemKind::Error(_) => "error",
            ItemKind::Interface(_) => "interface",
            ItemKind::Model(_) => "model",
        }
    }
}

/// `name: type` (a record field, a struct-variant field, or an argument).
#[derive(Debug, Clone)]
pub struct Field {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The name.
    pub name: Ident,
    /// The type.
    pub ty: Type,
}

/// An enum, error or event variant.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The name.
    pub name: Ident,
    /// Its data.
    pub payload: Payload,
    /// `= "message"` (error variants only).
    pub message: Option<Lit>,
}

/// The data a variant carries.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Nothing.
    Unit,
    /// `(T, U)`
    Tuple(Vec<Type>),
    /// `{ a: T, b: U }`
    Struct(Vec<Field>),
}

/// An interface body.
#[derive(Debug, Clone)]
pub struct Interface {
    /// `throws E` after the name: the default error of its methods.
    pub throws: Option<Type>,
    /// The methods.
    pub methods: Vec<Method>,
}

/// `name(args) [-> T] [throws E] [= literal];`
#[derive(Debug, Clone)]
pub struct Method {
    /// `///` lines.
    pub docs: Vec<String>,
    /// `@...` attributes.
    pub attrs: Vec<Attr>,
    /// The method name.
    pub name: Ident,
    /// The arguments.
    pub args: Vec<Field>,
    /// The result type (`None`: nothing, `()` in Rust).
    pub ret: Option<Type>,
    /// The error type (`None`: the interface's, else `pb::Error`).
    pub throws: Option<Type>,
    /// `= literal`: the value a `@local` method returns.
    pub value: Option<Lit>,
    /// From the name to the `;`.
    pub span: Span,
}

/// `model Name { state { ... } events { ... } }`
#[derive(Debug, Clone)]
pub struct Model {
    /// The state's fields.
    pub state: Vec<Field>,
    /// The change events.
    pub events: Vec<Variant>,
}

/// A type as written: a (dotted) name with optional type arguments.
#[derive(Debug, Clone)]
pub struct Type {
    /// `a.b.C` (one segment for built-ins and local names).
    pub path: Vec<Ident>,
    /// `<T, U>`
    pub args: Vec<Type>,
    /// The whole type.
    pub span: Span,
}

impl Type {
    /// The name as written, without arguments.
    pub fn name(&self) -> String {
        self.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".")
    }
}
