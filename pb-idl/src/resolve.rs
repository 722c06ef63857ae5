//! Resolver: syntax trees to the checked [`Schema`]. Collects declarations
//! per package, resolves every type name, and checks the rules local to one
//! declaration (attributes, markers, messages, names). Rules that need the
//! whole graph are in [`crate::check`].

use std::collections::HashMap;

use crate::ast::{self, LitKind};
use crate::diag::{Diagnostic, Kind, did_you_mean};
use crate::ir::*;
use crate::load::Loaded;
use crate::names::{self, NameKind};
use crate::span::{FileId, Span};

pub(crate) struct Resolver<'a> {
    loaded: &'a Loaded,
    pub(crate) diags: &'a mut Vec<Diagnostic>,
    pub(crate) schema: Schema,
    /// Package index of each file.
    file_pkg: Vec<usize>,
    /// `(package, name)` to declaration.
    names: HashMap<(usize, String), DefId>,
    /// The keyword of each declaration (known before its body is resolved).
    kinds: Vec<&'static str>,
}

/// Resolve every declaration of `loaded`.
pub(crate) fn resolve(loaded: &Loaded, diags: &mut Vec<Diagnostic>) -> Schema {
    let mut r = Resolver {
        loaded,
        diags,
        schema: Schema::default(),
        file_pkg: Vec::new(),
        names: HashMap::new(),
        kinds: Vec::new(),
    };
    r.packages();
    let mut items = Vec::new();
    for file in &loaded.files {
        for item in &file.items {
            items.push((file.file, item, r.declare(file.file, item)));
        }
    }
    r.generated_names();
    for (file, item, def) in items {
        let kind = r.body(file, item);
        if let Some(d) = r.schema.defs.get_mut(def) {
            d.kind = kind;
        }
    }
    r.schema
}

impl Resolver<'_> {
    fn packages(&mut self) {
        for file in &self.loaded.files {
            let name = file.package.as_ref().map_or_else(String::new, ast::Package::name);
            let mut span = Span::default();
            if let Some(pkg) = &file.package {
                for seg in &pkg.path {
                    self.name(seg, NameKind::Package);
                }
                if let (Some(first), Some(last)) = (pkg.path.first(), pkg.path.last()) {
                    span = first.span.to(last.span);
                }
            }
            let idx = match self.schema.packages.iter().position(|p| p.name == name) {
                Some(i) => i,
                None => {
                    let package = Package { name, docs: Vec::new(), files: Vec::new(), defs: Vec::new(), span };
                    self.schema.packages.push(package);
                    self.schema.packages.len() - 1
                }
            };
            let pkg = &mut self.schema.packages[idx];
            pkg.files.push(file.file);
            pkg.docs.extend(file.docs.iter().cloned());
            self.file_pkg.push(idx);
        }
    }

    /// The keyword of declaration `def`.
    pub(crate) fn kind(&self, def: DefId) -> &'static str {
        self.kinds.get(def).copied().unwrap_or("declaration")
    }

    pub(crate) fn pkg_of(&self, file: FileId) -> usize {
        self.file_pkg.get(file.0).copied().unwrap_or(0)
    }

    /// Check a declared name: reserved words (error) and conventions (warning).
    pub(crate) fn name(&mut self, ident: &ast::Ident, kind: NameKind) {
        if let Some(why) = names::reserved(&ident.name, kind) {
            self.diags.push(
                Diagnostic::error(Kind::ReservedWord, ident.span, why)
                    .label("reserved")
                    .hint(names::rename_hint(&ident.name)),
            );
        } else if let Some(fixed) = names::convention(&ident.name, kind) {
            let style = if kind.camel() { "UpperCamelCase" } else { "snake_case" };
            self.diags.push(
                Diagnostic::warning(Kind::Naming, ident.span, format!("{} should be {style}", kind.article()))
                    .label(format!("not {style}"))
                    .hint(if kind == NameKind::Method {
                        format!("rename it `{fixed}`, with `@name(\"{}\")` to keep its wire identity", ident.name)
                    } else {
                        format!("rename it `{fixed}`")
                    }),
            );
        }
    }

    fn declare(&mut self, file: FileId, item: &ast::Item) -> DefId {
        let package = self.pkg_of(file);
        self.name(&item.name, NameKind::Type);
        let id = self.schema.defs.len();
        let key = (package, item.name.name.clone());
        if let Some(&first) = self.names.get(&key) {
            let first_span = self.schema.defs[first].span;
            self.diags.push(
                Diagnostic::error(Kind::Duplicate, item.name.span, format!("`{}` is declared twice", item.name.name))
                    .label("declared again here")
                    .with(first_span, "first declared here")
                    .hint("rename one of them"),
            );
        } else {
            self.names.insert(key, id);
        }
        self.schema.defs.push(Def {
            name: item.name.name.clone(),
            package,
            docs: item.docs.clone(),
            span: item.name.span,
            kind: DefKind::Record(Vec::new()),
            partial_eq: true,
            eq: true,
            streams: false,
            senders: false,
        });
        self.schema.packages[package].defs.push(id);
        self.kinds.push(item.kind.keyword());
        id
    }

    /// Names the generator adds (`XProxy`, `MState`, `MEvent`) must be free.
    fn generated_names(&mut self) {
        let mut clashes = Vec::new();
        for (id, item) in self.loaded.files.iter().flat_map(|f| f.items.iter()).enumerate() {
            let suffixes: &[&str] = match item.kind {
                ast::ItemKind::Interface(_) => &["Proxy"],
                ast::ItemKind::Model(_) => &["Event", "Apply"],
                _ => &[],
            };
            let package = self.schema.defs.get(id).map_or(0, |d| d.package);
            for suffix in suffixes {
                let generated = format!("{}{suffix}", item.name.name);
                if let Some(&other) = self.names.get(&(package, generated.clone())) {
                    clashes.push((other, generated, item.name.clone(), item.kind.keyword()));
                }
            }
        }
        for (other, generated, owner, keyword) in clashes {
            let span = self.schema.defs[other].span;
            self.diags.push(
                Diagnostic::error(Kind::Duplicate, span, format!("`{generated}` clashes with a generated type"))
                    .label("declared here")
                    .with(owner.span, format!("{keyword} `{}` generates `{generated}`", owner.name))
                    .hint("rename one of them"),
            );
        }
    }

    fn body(&mut self, file: FileId, item: &ast::Item) -> DefKind {
        if !matches!(item.kind, ast::ItemKind::Interface(_) | ast::ItemKind::Model(_)) {
            for attr in &item.attrs {
                self.diags.push(
                    Diagnostic::error(Kind::Attribute, attr.span, format!("`@{}` does not apply to {} {}", attr.name.name, article(item.kind.keyword()), item.kind.keyword()))
                        .label("not allowed here")
                        .hint("attributes go on interfaces (`@name`, `@id`), models (`@name`) and methods (`@replay`, `@idempotent`, `@local`, `@name`, `@id`)"),
                );
            }
        }
        match &item.kind {
            ast::ItemKind::Record(fields) => DefKind::Record(self.fields(file, fields, NameKind::Field)),
            ast::ItemKind::Enum(variants) => DefKind::Enum(self.variants(file, variants, false)),
            ast::ItemKind::Error(variants) => DefKind::Error(self.variants(file, variants, true)),
            ast::ItemKind::Model(m) => DefKind::Model {
                wire_name: self.model_name(file, item),
                state: self.fields(file, &m.state, NameKind::Field),
                events: self.variants(file, &m.events, false),
            },
            ast::ItemKind::Interface(i) => DefKind::Interface(self.interface(file, item, i)),
        }
    }

    pub(crate) fn fields(&mut self, file: FileId, fields: &[ast::Field], kind: NameKind) -> Vec<Field> {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut out = Vec::new();
        for f in fields {
            self.name(&f.name, kind);
            if let Some(first) = seen.insert(&f.name.name, f.name.span) {
                self.diags.push(
                    Diagnostic::error(Kind::Duplicate, f.name.span, format!("`{}` appears twice", f.name.name))
                        .label("again here")
                        .with(first, "first here")
                        .hint("rename or remove one of them"),
                );
            }
            let ty = self.ty(file, &f.ty);
            out.push(Field {
                name: f.name.name.clone(),
                docs: f.docs.clone(),
                ty,
                span: f.name.span,
                ty_span: f.ty.span,
            });
        }
        out
    }

    fn variants(&mut self, file: FileId, variants: &[ast::Variant], error: bool) -> Vec<Variant> {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut out = Vec::new();
        for v in variants {
            self.name(&v.name, NameKind::Variant);
            if error && v.name.name == "Pb" {
                self.diags.push(
                    Diagnostic::error(Kind::ReservedWord, v.name.span, "`Pb` is reserved in errors")
                        .label("reserved")
                        .hint("every error gets a `Pb(pb::Error)` variant for transport failures; rename this one"),
                );
            }
            if let Some(first) = seen.insert(&v.name.name, v.name.span) {
                self.diags.push(
                    Diagnostic::error(Kind::Duplicate, v.name.span, format!("variant `{}` appears twice", v.name.name))
                        .label("again here")
                        .with(first, "first here")
                        .hint("rename or remove one of them"),
                );
            }
            let payload = match &v.payload {
                ast::Payload::Unit => Payload::Unit,
                ast::Payload::Struct(fields) => Payload::Struct(self.fields(file, fields, NameKind::Field)),
                ast::Payload::Tuple(types) => Payload::Tuple(
                    types
                        .iter()
                        .enumerate()
                        .map(|(i, t)| Field {
                            name: i.to_string(),
                            docs: Vec::new(),
                            ty: self.ty(file, t),
                            span: t.span,
                            ty_span: t.span,
                        })
                        .collect(),
                ),
            };
            let message = match (&v.message, error) {
                (None, false) => None,
                (None, true) => Some(default_message(v)),
                (Some(lit), false) => {
                    self.diags.push(
                        Diagnostic::error(Kind::Message, lit.span, "only error variants have messages")
                            .label("not an error variant")
                            .hint("remove `= ...`, or declare the type with `error` instead of `enum`"),
                    );
                    None
                }
                (Some(lit), true) => match &lit.kind {
                    LitKind::Str(s) => {
                        self.message(s, lit.span, &payload);
                        Some(s.clone())
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::error(Kind::Literal, lit.span, "an error message must be a string")
                                .label("not a string")
                                .hint("write `= \"what went wrong: {0}\"`"),
                        );
                        None
                    }
                },
            };
            out.push(Variant { name: v.name.name.clone(), docs: v.docs.clone(), payload, message, span: v.name.span });
        }
        out
    }

    /// Check the `{0}` / `{field}` placeholders of an error message.
    fn message(&mut self, text: &str, span: Span, payload: &Payload) {
        for p in crate::message::placeholders(text) {
            let problem = match p {
                Err(why) => Some((
                    why,
                    "write `{0}` for a positional field, `{name}` for a named one, `{{`/`}}` for braces".to_string(),
                )),
                Ok((arg, _)) => {
                    let fields = payload.fields();
                    let ok = match payload {
                        Payload::Struct(_) => fields.iter().any(|f| f.name == arg),
                        Payload::Tuple(_) => fields.iter().any(|f| f.name == arg),
                        Payload::Unit => false,
                    };
                    (!ok).then(|| {
                        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                        let hint = match did_you_mean(&arg, names.iter().copied()) {
                            Some(s) => format!("did you mean `{{{s}}}`?"),
                            None if names.is_empty() => "this variant has no fields to show".to_string(),
                            None => format!(
                                "the variant's fields are {}",
                                names.iter().map(|n| format!("`{{{n}}}`")).collect::<Vec<_>>().join(", ")
                            ),
                        };
                        (format!("the message names `{arg}`, which this variant does not have"), hint)
                    })
                }
            };
            if let Some((why, hint)) = problem {
                self.diags.push(Diagnostic::error(Kind::Message, span, why).label("in this message").hint(hint));
            }
        }
    }

    /// Resolve a type in a data position (field, argument, result).
    pub(crate) fn ty(&mut self, file: FileId, t: &ast::Type) -> Ty {
        if let [single] = t.path.as_slice() {
            let arity = match single.name.as_str() {
                "list" | "option" | "box" | "ref" | "stream" | "sender" => Some(1),
                "map" => Some(2),
                _ => None,
            };
            if let Some(n) = arity {
                if t.args.len() != n {
                    let example = if n == 1 { format!("{}<T>", single.name) } else { "map<K, V>".to_string() };
                    self.diags.push(
                        Diagnostic::error(
                            Kind::TypeArguments,
                            t.span,
                            format!(
                                "`{}` takes {n} type argument{}, found {}",
                                single.name,
                                if n == 1 { "" } else { "s" },
                                t.args.len()
                            ),
                        )
                        .label("wrong number of type arguments")
                        .hint(format!("write `{example}`")),
                    );
                    return Ty::Invalid;
                }
                return match single.name.as_str() {
                    "list" => Ty::List(Box::new(self.ty(file, &t.args[0]))),
                    "option" => Ty::Option(Box::new(self.ty(file, &t.args[0]))),
                    "box" => Ty::Box(Box::new(self.ty(file, &t.args[0]))),
                    "stream" => Ty::Stream(Box::new(self.ty(file, &t.args[0]))),
                    "sender" => Ty::Sender(Box::new(self.ty(file, &t.args[0]))),
                    "ref" => self.reference(file, &t.args[0]),
                    _ => {
                        let k = self.ty(file, &t.args[0]);
                        self.map_key(&k, t.args[0].span);
                        Ty::Map(Box::new(k), Box::new(self.ty(file, &t.args[1])))
                    }
                };
            }
            if let Some(p) = Prim::from_name(&single.name) {
                self.no_args(t);
                return Ty::Prim(p);
            }
        }
        let Some(def) = self.lookup(file, t) else { return Ty::Invalid };
        self.no_args(t);
        if self.kind(def) == "interface" {
            let name = t.name();
            self.diags.push(
                Diagnostic::error(
                    Kind::InterfaceByValue,
                    t.span,
                    format!("interface `{name}` cannot be passed by value"),
                )
                .label("an interface, used as data")
                .hint(format!("objects travel by reference: write `ref<{name}>`")),
            );
            return Ty::Ref(def);
        }
        Ty::Def(def)
    }

    fn no_args(&mut self, t: &ast::Type) {
        if !t.args.is_empty() {
            self.diags.push(
                Diagnostic::error(Kind::TypeArguments, t.span, format!("`{}` takes no type arguments", t.name()))
                    .label("unexpected `<...>`")
                    .hint(format!("write `{}`", t.name())),
            );
        }
    }

    fn map_key(&mut self, k: &Ty, span: Span) {
        let ok = match k {
            Ty::Prim(p) => !matches!(p, Prim::F32 | Prim::F64),
            Ty::Invalid => true,
            _ => false,
        };
        if !ok {
            let name = self.schema.display(k);
            let hint = if matches!(k, Ty::Stream(_)) {
                "a stream is items still to come, not a value to look up: map keys are integers, `bool`, `string` or `bytes`"
            } else if matches!(k, Ty::Sender(_)) {
                "a sender is a way to send items, not a value to look up: map keys are integers, `bool`, `string` or `bytes`"
            } else {
                "map keys are integers, `bool`, `string` or `bytes`; use `list<...>` of a record for other keys"
            };
            self.diags.push(
                Diagnostic::error(Kind::MapKey, span, format!("`{name}` cannot be a map key"))
                    .label("not a key type")
                    .hint(hint),
            );
        }
    }

    /// `ref<T>`: `T` must be an interface.
    fn reference(&mut self, file: FileId, t: &ast::Type) -> Ty {
        let builtin = t.path.len() == 1 && names::BUILTIN_TYPES.contains(&t.path[0].name.as_str());
        if builtin {
            let hint = if t.name() == "stream" {
                "a stream travels by reference already: write `stream<...>` without `ref<...>`"
            } else if t.name() == "sender" {
                "a sender travels by reference already: write `sender<...>` without `ref<...>`"
            } else {
                "`ref<...>` passes an object by reference; data is passed by copy without it"
            };
            self.diags.push(
                Diagnostic::error(
                    Kind::NotAnInterface,
                    t.span,
                    format!("`{}` is a built-in type, not an interface", t.name()),
                )
                .label("not an interface")
                .hint(hint),
            );
            return Ty::Invalid;
        }
        let Some(def) = self.lookup(file, t) else { return Ty::Invalid };
        self.no_args(t);
        match self.kind(def) {
            "interface" => Ty::Ref(def),
            kw => {
                self.diags.push(
                    Diagnostic::error(
                        Kind::NotAnInterface,
                        t.span,
                        format!("`{}` is {} {kw}, not an interface", t.name(), article(kw)),
                    )
                    .label("not an interface")
                    .with(self.schema.defs[def].span, "declared here")
                    .hint(format!("{kw}s are passed by copy: write `{}`", t.name())),
                );
                Ty::Invalid
            }
        }
    }

    /// Resolve a (possibly qualified) declaration name, reporting failures.
    pub(crate) fn lookup(&mut self, file: FileId, t: &ast::Type) -> Option<DefId> {
        let own = self.pkg_of(file);
        let (last, pkg_path) = t.path.split_last()?;
        let pkg = if pkg_path.is_empty() {
            own
        } else {
            let name = pkg_path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".");
            let span = pkg_path[0].span.to(pkg_path[pkg_path.len() - 1].span);
            let visible = self.visible(file);
            match self.schema.packages.iter().position(|p| p.name == name) {
                Some(p) if visible.contains(&p) => p,
                Some(p) => {
                    let path = self.schema.packages[p].files.first().map(|f| self.loaded.sources.name(*f).to_string());
                    self.diags.push(
                        Diagnostic::error(
                            Kind::UnknownPackage,
                            span,
                            format!("package `{name}` is not imported by this file"),
                        )
                        .label("not imported")
                        .hint(format!("add `import \"{}\";`", path.unwrap_or_default())),
                    );
                    return None;
                }
                None => {
                    let names: Vec<String> = visible.iter().map(|p| self.schema.packages[*p].name.clone()).collect();
                    let hint = did_you_mean(&name, names.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "import the file that declares it with `import \"file.pbidl\";`".into());
                    self.diags.push(
                        Diagnostic::error(Kind::UnknownPackage, span, format!("unknown package `{name}`"))
                            .label("no such package")
                            .hint(hint),
                    );
                    return None;
                }
            }
        };
        if let Some(&def) = self.names.get(&(pkg, last.name.clone())) {
            return Some(def);
        }
        let hint = self.unknown_hint(file, pkg, &last.name, pkg_path.is_empty());
        self.diags.push(
            Diagnostic::error(Kind::UnknownType, t.span, format!("unknown type `{}`", t.name()))
                .label("not declared")
                .hint(hint),
        );
        None
    }

    fn visible(&self, file: FileId) -> Vec<usize> {
        let mut v = vec![self.pkg_of(file)];
        for f in self.loaded.imports.get(file.0).into_iter().flatten() {
            v.push(self.pkg_of(*f));
        }
        v
    }

    fn unknown_hint(&self, file: FileId, pkg: usize, name: &str, local: bool) -> String {
        let common = match name {
            "String" | "str" => Some("`string`"),
            "Vec" | "array" | "List" => Some("`list<T>`"),
            "HashMap" | "BTreeMap" | "Map" | "dict" => Some("`map<K, V>`"),
            "Option" | "optional" | "Optional" => Some("`option<T>`"),
            "Box" => Some("`box<T>`"),
            "Arc" | "Ref" => Some("`ref<Iface>`"),
            "Stream" | "Iterator" | "Channel" | "Receiver" => Some("`stream<T>`"),
            "Sender" | "Sink" => Some("`sender<T>`"),
            "int" | "long" | "isize" | "usize" => Some("`i64` or `u64`"),
            "float" | "double" => Some("`f64`"),
            "boolean" | "Bool" => Some("`bool`"),
            "Bytes" | "blob" => Some("`bytes`"),
            _ => None,
        };
        if let Some(c) = common.filter(|_| local) {
            return format!("did you mean {c}?");
        }
        let mut candidates: Vec<&str> =
            self.schema.defs.iter().filter(|d| d.package == pkg).map(|d| d.name.as_str()).collect();
        if local {
            candidates.extend(names::BUILTIN_TYPES.iter().copied());
        }
        if let Some(s) = did_you_mean(name, candidates) {
            return format!("did you mean `{s}`?");
        }
        if local {
            for p in self.visible(file) {
                if p != pkg && self.names.contains_key(&(p, name.to_string())) {
                    return format!(
                        "`{name}` is declared in package `{0}`: write `{0}.{name}`",
                        self.schema.packages[p].name
                    );
                }
            }
        }
        "declare it, or import the file that declares it".into()
    }
}

/// The message of an error variant without `= "..."`: its first doc line
/// (braces escaped, trailing period dropped), else its name in words.
fn default_message(v: &ast::Variant) -> String {
    match v.docs.first().map(|d| d.trim()).filter(|d| !d.is_empty()) {
        Some(doc) => doc.trim_end_matches('.').replace('{', "{{").replace('}', "}}"),
        None => names::words(&v.name.name),
    }
}

/// "a" or "an" for `word`.
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}
