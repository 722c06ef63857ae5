//! A peer's own type description, written as a `.pbidl` schema: what
//! `describe` prints, and what `call` encodes by when no `--schema` is given.
//!
//! Methods whose types the peer cannot describe (a Rust type without
//! `#[derive(pb::Describe)]`, a reference to an object) are written as
//! comments: listed, but not callable without a schema.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pb::describe::InterfaceDescription;
use pb::describe::types::{FieldDesc, MethodTypes, NamedType, Shape, TypeDesc, TypeTable, VariantDesc};

/// The schema text of interface `desc` with the types of `table`.
pub fn render(desc: &InterfaceDescription, table: &TypeTable) -> String {
    let (package, name) = match desc.name.rsplit_once('.') {
        Some((p, n)) => (p.to_string(), n.to_string()),
        None => ("peer".to_string(), desc.name.clone()),
    };
    let mut w = Writer { table, decls: BTreeMap::new(), models: BTreeMap::new() };
    let mut methods = String::new();
    for m in &desc.methods {
        match table.methods.iter().find(|t| t.id == m.id) {
            Some(t) => match w.method(&m.name, t) {
                Ok(line) => methods.push_str(&line),
                Err(why) => {
                    let _ = writeln!(methods, "    // {}(..): {why}", m.name);
                }
            },
            None => {
                let _ = writeln!(methods, "    // {}(..): not described by the peer", m.name);
            }
        }
    }
    let mut out = format!("package {package};\n\n");
    for decl in w.decls.values().chain(w.models.values()) {
        out.push_str(decl);
        out.push('\n');
    }
    let _ = write!(out, "@name(\"{}\") @id({})\ninterface {name} {{\n{methods}}}\n", desc.name, desc.id);
    out
}

struct Writer<'a> {
    table: &'a TypeTable,
    /// Records, enums and errors by name.
    decls: BTreeMap<String, String>,
    /// Models by name.
    models: BTreeMap<String, String>,
}

impl Writer<'_> {
    fn method(&mut self, name: &str, t: &MethodTypes) -> Result<String, String> {
        let args = t
            .args
            .iter()
            .map(|a| Ok(format!("{}: {}", a.name, self.ty(&a.ty)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let ret = match &t.ok {
            TypeDesc::Unit => String::new(),
            TypeDesc::Cache { name, state, event } => format!(" -> {}", self.model(name, state, event)?),
            other => format!(" -> {}", self.ty(other)?),
        };
        let throws = match &t.err {
            TypeDesc::PbError => String::new(),
            TypeDesc::Named(i) => format!(" throws {}", self.named(*i)?),
            other => return Err(format!("an error type pb cannot describe ({other:?})")),
        };
        let mut attrs = String::new();
        if t.replay {
            attrs.push_str("@replay ");
        }
        if t.idempotent {
            attrs.push_str("@idempotent ");
        }
        Ok(format!("    {attrs}@id({}) {name}({}){ret}{throws};\n", t.id, args.join(", ")))
    }

    fn ty(&mut self, t: &TypeDesc) -> Result<String, String> {
        Ok(match t {
            TypeDesc::Bool => "bool".into(),
            TypeDesc::U8 => "u8".into(),
            TypeDesc::U16 => "u16".into(),
            TypeDesc::U32 => "u32".into(),
            TypeDesc::U64 => "u64".into(),
            TypeDesc::I8 => "i8".into(),
            TypeDesc::I16 => "i16".into(),
            TypeDesc::I32 => "i32".into(),
            TypeDesc::I64 => "i64".into(),
            TypeDesc::F32 => "f32".into(),
            TypeDesc::F64 => "f64".into(),
            TypeDesc::String => "string".into(),
            TypeDesc::Bytes => "bytes".into(),
            TypeDesc::Option(t) => format!("option<{}>", self.ty(t)?),
            TypeDesc::List(t) => format!("list<{}>", self.ty(t)?),
            TypeDesc::Map(k, v) => format!("map<{}, {}>", self.ty(k)?, self.ty(v)?),
            TypeDesc::Named(i) => self.named(*i)?,
            TypeDesc::Stream(t) => format!("stream<{}>", self.ty(t)?),
            TypeDesc::Sender(t) => format!("sender<{}>", self.ty(t)?),
            TypeDesc::Ref(iface) => return Err(format!("takes or returns a reference to `{iface}`")),
            TypeDesc::Cache { name, .. } => return Err(format!("a cached model `{name}` inside other data")),
            TypeDesc::Opaque(rust) => {
                return Err(format!("`{rust}` does not describe itself (#[derive(pb::Describe)])"));
            }
            TypeDesc::Unit => return Err("`()` inside other data".into()),
            TypeDesc::PbError => return Err("a pb::Error inside other data".into()),
            other => return Err(format!("a type this pb does not know ({other:?})")),
        })
    }

    /// The name of named type `i`, declaring it on first use.
    fn named(&mut self, i: u32) -> Result<String, String> {
        let t: &NamedType = self.table.types.get(i as usize).ok_or_else(|| format!("no named type {i}"))?;
        let name = t.name.clone();
        if self.decls.contains_key(&name) {
            return Ok(name);
        }
        self.decls.insert(name.clone(), String::new()); // recursion ends here
        let decl = match &t.shape {
            Shape::Record(fields) => format!("record {name} {{ {} }}\n", self.fields(fields)?),
            Shape::Tuple(_) => return Err(format!("`{name}` is a tuple struct, which schemas do not have")),
            Shape::Enum(variants) => {
                let is_error = matches!(variants.last(), Some(VariantDesc::Tuple(_, t)) if t == &[TypeDesc::PbError]);
                let own = if is_error { &variants[..variants.len() - 1] } else { &variants[..] };
                let items = own.iter().map(|v| self.variant(v)).collect::<Result<Vec<_>, _>>()?;
                let keyword = if is_error { "error" } else { "enum" };
                format!("{keyword} {name} {{ {} }}\n", items.join(", "))
            }
        };
        self.decls.insert(name.clone(), decl);
        Ok(name)
    }

    fn fields(&mut self, fields: &[FieldDesc]) -> Result<String, String> {
        let items = fields
            .iter()
            .map(|f| Ok(format!("{}: {}", f.name, self.ty(&f.ty)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(items.join(", "))
    }

    fn variant(&mut self, v: &VariantDesc) -> Result<String, String> {
        Ok(match v {
            VariantDesc::Unit(n) => n.clone(),
            VariantDesc::Tuple(n, items) => {
                let items = items.iter().map(|t| self.ty(t)).collect::<Result<Vec<_>, _>>()?;
                format!("{n}({})", items.join(", "))
            }
            VariantDesc::Struct(n, fields) => format!("{n} {{ {} }}", self.fields(fields)?),
        })
    }

    /// Declare the model of a cache; its name is its state's.
    fn model(&mut self, wire: &str, state: &TypeDesc, event: &TypeDesc) -> Result<String, String> {
        let (TypeDesc::Named(s), TypeDesc::Named(e)) = (state, event) else {
            return Err(format!("the cached model `{wire}` does not describe its state and events"));
        };
        let (st, ev) = (&self.table.types[*s as usize], &self.table.types[*e as usize]);
        let (Shape::Record(fields), Shape::Enum(variants)) = (&st.shape, &ev.shape) else {
            return Err(format!("the cached model `{wire}` is not a record with an event enum"));
        };
        let name = st.name.clone();
        let state = self.fields(fields)?;
        let events = variants.iter().map(|v| self.variant(v)).collect::<Result<Vec<_>, _>>()?;
        let decl =
            format!("@name(\"{wire}\")\nmodel {name} {{ state {{ {state} }} events {{ {} }} }}\n", events.join(", "));
        self.models.insert(name.clone(), decl);
        Ok(name)
    }
}
