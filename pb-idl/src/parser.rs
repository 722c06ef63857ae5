//! Parser: tokens to the syntax tree of one file.
//!
//! Recursive descent with error recovery at three levels (a field or
//! variant skips to the next `,`, a method to the next `;`, a declaration to
//! the end of its braces), so one run reports every syntax error.

use crate::ast::*;
use crate::diag::{Diagnostic, Kind};
use crate::lexer::{Lexed, Tok, Token};
use crate::span::{FileId, Span};

/// How deeply type arguments may nest (`list<list<...>>`).
pub const MAX_TYPE_DEPTH: usize = 32;

const ITEM_KEYWORDS: [&str; 5] = ["record", "enum", "error", "interface", "model"];

/// A syntax error was reported; the caller recovers.
struct Reported;

type PResult<T> = Result<T, Reported>;

struct Parser<'d> {
    tokens: Vec<Token>,
    pos: usize,
    diags: &'d mut Vec<Diagnostic>,
}

/// Parse one file's tokens. Problems go to `diags`; the tree holds what
/// could be parsed.
pub fn parse(file: FileId, lexed: Lexed, diags: &mut Vec<Diagnostic>) -> File {
    let mut p = Parser { tokens: lexed.tokens, pos: 0, diags };
    let mut out = File { file, docs: lexed.inner_docs, package: None, imports: Vec::new(), items: Vec::new() };
    if p.is_ident("package") {
        out.package = p.package().ok();
    } else {
        let span = p.peek_span();
        p.diags.push(
            Diagnostic::error(Kind::Package, span, "missing package declaration")
                .label("expected `package` before this")
                .hint("start the file with `package name;` (for example `package aurora;`)"),
        );
    }
    while !p.at(&Tok::Eof) {
        let start = p.pos;
        if p.is_ident("import") {
            if let Ok(import) = p.import() {
                out.imports.push(import);
            }
            continue;
        }
        if p.is_ident("package") {
            let span = p.peek_span();
            p.diags.push(
                Diagnostic::error(Kind::Package, span, "the package declaration must come first, once")
                    .label("unexpected `package`")
                    .hint("keep one `package name;` at the top of the file"),
            );
            let _ = p.package();
            continue;
        }
        match p.item() {
            Ok(item) => out.items.push(item),
            Err(Reported) => p.recover_item(start),
        }
    }
    out
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_span(&self) -> Span {
        self.tokens.get(self.pos).or(self.tokens.last()).map_or_else(Span::default, |t| t.span)
    }

    fn peek_docs(&self) -> Vec<String> {
        self.tokens.get(self.pos).map_or_else(Vec::new, |t| t.docs.clone())
    }

    fn prev_span(&self) -> Span {
        self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)).map_or_else(|| self.peek_span(), |t| t.span)
    }

    fn at(&self, tok: &Tok) -> bool {
        self.peek() == tok
    }

    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == word)
    }

    fn bump(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let hit = self.at(tok);
        if hit {
            self.bump();
        }
        hit
    }

    /// Report "expected `what`, found ..." at the current token.
    fn expected(&mut self, what: &str, hint: Option<String>) -> Reported {
        let found = self.peek().describe();
        let span = self.peek_span();
        self.diags.push(
            Diagnostic::error(Kind::Syntax, span, format!("expected {what}, found {found}"))
                .label(format!("expected {what}"))
                .maybe_hint(hint),
        );
        Reported
    }

    fn expect(&mut self, tok: &Tok, hint: Option<&str>) -> PResult<Span> {
        if self.at(tok) {
            let span = self.peek_span();
            self.bump();
            Ok(span)
        } else {
            Err(self.expected(&tok.describe(), hint.map(str::to_string)))
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                let span = self.peek_span();
                self.bump();
                Ok(Ident { name, span })
            }
            _ => Err(self.expected(what, None)),
        }
    }

    fn package(&mut self) -> PResult<Package> {
        let start = self.peek_span();
        self.bump();
        let mut path = vec![self.ident("a package name")?];
        while self.eat(&Tok::Dot) {
            path.push(self.ident("a package name")?);
        }
        self.expect(&Tok::Semi, Some("end the package declaration with `;`"))?;
        Ok(Package { path, span: start.to(self.prev_span()) })
    }

    fn import(&mut self) -> PResult<Import> {
        self.bump();
        let span = self.peek_span();
        let Tok::Str(path) = self.peek().clone() else {
            let err = self.expected("a file name in quotes", Some("write `import \"other.pbidl\";`".into()));
            self.skip_until(&[Tok::Semi]);
            self.eat(&Tok::Semi);
            return Err(err);
        };
        self.bump();
        if self.expect(&Tok::Semi, Some("end the import with `;`")).is_err() {
            self.skip_until(&[Tok::Semi]);
            self.eat(&Tok::Semi);
        }
        Ok(Import { path, span })
    }

    /// Skip to one of `stops` at the current nesting level (or to an
    /// unbalanced closing bracket, or the end).
    fn skip_until(&mut self, stops: &[Tok]) {
        let mut depth = 0usize;
        loop {
            let tok = self.peek().clone();
            if tok == Tok::Eof || (depth == 0 && stops.contains(&tok)) {
                return;
            }
            match tok {
                Tok::LBrace | Tok::LParen => depth += 1,
                Tok::RBrace | Tok::RParen => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// After a failed declaration starting at token `start`: skip past its
    /// body (the first `{ ... }`), or up to the next declaration keyword.
    fn recover_item(&mut self, start: usize) {
        self.pos = start;
        self.bump();
        loop {
            match self.peek() {
                Tok::Eof => return,
                Tok::LBrace => {
                    self.bump();
                    self.skip_until(&[]);
                    self.eat(&Tok::RBrace);
                    self.eat(&Tok::RParen);
                    if !self.at(&Tok::RBrace) {
                        return;
                    }
                }
                Tok::Ident(s) if ITEM_KEYWORDS.contains(&s.as_str()) || s == "import" => return,
                _ => self.bump(),
            }
        }
    }

    fn attrs(&mut self) -> PResult<Vec<Attr>> {
        let mut attrs = Vec::new();
        while self.at(&Tok::At) {
            let start = self.peek_span();
            self.bump();
            let name = self.ident("an attribute name after `@`")?;
            let arg = if self.eat(&Tok::LParen) {
                let lit = self.lit()?;
                self.expect(&Tok::RParen, None)?;
                Some(lit)
            } else {
                None
            };
            attrs.push(Attr { name, arg, span: start.to(self.prev_span()) });
        }
        Ok(attrs)
    }

    fn lit(&mut self) -> PResult<Lit> {
        let span = self.peek_span();
        let kind = match self.peek().clone() {
            Tok::Str(s) => LitKind::Str(s),
            Tok::Number(n) => LitKind::Number(n),
            Tok::Ident(s) if s == "true" => LitKind::Bool(true),
            Tok::Ident(s) if s == "false" => LitKind::Bool(false),
            _ => return Err(self.expected("a literal (a string, a number, `true` or `false`)", None)),
        };
        self.bump();
        Ok(Lit { kind, span })
    }

    fn item(&mut self) -> PResult<Item> {
        let docs = self.peek_docs();
        let attrs = self.attrs()?;
        let keyword = self.peek_span();
        let word = match self.peek() {
            Tok::Ident(s) => s.clone(),
            _ => String::new(),
        };
        if !ITEM_KEYWORDS.contains(&word.as_str()) {
            let hint = match word.as_str() {
                "struct" | "message" | "type" => Some("records are declared with `record Name { field: type, ... }`"),
                "trait" | "service" => {
                    Some("interfaces are declared with `interface Name { method(arg: type) -> type; }`")
                }
                "fn" | "rpc" => Some("methods go inside an `interface { ... }`"),
                "exception" => Some("error types are declared with `error Name { Variant(type) = \"message\", ... }`"),
                "use" | "include" => Some("other schema files are imported with `import \"file.pbidl\";`"),
                _ => None,
            };
            return Err(self.expected(
                "a declaration (`record`, `enum`, `error`, `interface` or `model`)",
                hint.map(str::to_string),
            ));
        }
        self.bump();
        let name = self.ident(&format!("a name after `{word}`"))?;
        let kind = match word.as_str() {
            "record" => ItemKind::Record(self.fields_in(Tok::LBrace, Tok::RBrace)?),
            "enum" => ItemKind::Enum(self.variants()?),
            "error" => ItemKind::Error(self.variants()?),
            "interface" => ItemKind::Interface(self.interface()?),
            _ => ItemKind::Model(self.model()?),
        };
        Ok(Item { docs, attrs, name, keyword, kind })
    }

    /// `open field, field, ... close` (trailing comma allowed).
    fn fields_in(&mut self, open: Tok, close: Tok) -> PResult<Vec<Field>> {
        self.expect(&open, None)?;
        let mut fields = Vec::new();
        loop {
            if self.eat(&close) {
                return Ok(fields);
            }
            if self.at(&Tok::Eof) {
                return Err(self.expected(&close.describe(), None));
            }
            match self.field() {
                Ok(f) => fields.push(f),
                Err(Reported) => self.skip_until(&[Tok::Comma, close.clone()]),
            }
            if !self.eat(&Tok::Comma) && !self.at(&close) {
                let hint = self.missing_comma_hint("fields and arguments");
                let err = self.expected(&format!("`,` or {}", close.describe()), hint);
                self.skip_until(&[Tok::Comma, close.clone()]);
                if !self.eat(&Tok::Comma) && !self.at(&close) {
                    return Err(err);
                }
            }
        }
    }

    /// "separate ... with `,`" when the next token starts another item of a list.
    fn missing_comma_hint(&self, what: &str) -> Option<String> {
        matches!(self.peek(), Tok::Ident(_)).then(|| format!("separate {what} with `,`"))
    }

    fn field(&mut self) -> PResult<Field> {
        let docs = self.peek_docs();
        let name = self.ident("a field name")?;
        self.expect(&Tok::Colon, Some("write fields and arguments as `name: type`"))?;
        let ty = self.ty(0)?;
        Ok(Field { docs, name, ty })
    }

    fn ty(&mut self, depth: usize) -> PResult<Type> {
        if depth > MAX_TYPE_DEPTH {
            let span = self.peek_span();
            self.diags.push(
                Diagnostic::error(Kind::TooDeep, span, format!("types nest deeper than {MAX_TYPE_DEPTH} levels"))
                    .label("too deep")
                    .hint("declare a record for the inner part"),
            );
            return Err(Reported);
        }
        let first = self.ident("a type")?;
        let start = first.span;
        let mut path = vec![first];
        while self.eat(&Tok::Dot) {
            path.push(self.ident("a type name after `.`")?);
        }
        let mut args = Vec::new();
        if self.eat(&Tok::Lt) {
            loop {
                args.push(self.ty(depth + 1)?);
                if self.eat(&Tok::Gt) {
                    break;
                }
                self.expect(&Tok::Comma, Some("type arguments are separated by `,` and closed with `>`"))?;
            }
        }
        Ok(Type { path, args, span: start.to(self.prev_span()) })
    }

    fn variants(&mut self) -> PResult<Vec<Variant>> {
        self.expect(&Tok::LBrace, None)?;
        let mut variants = Vec::new();
        loop {
            if self.eat(&Tok::RBrace) {
                return Ok(variants);
            }
            if self.at(&Tok::Eof) {
                return Err(self.expected("`}`", None));
            }
            match self.variant() {
                Ok(v) => variants.push(v),
                Err(Reported) => self.skip_until(&[Tok::Comma, Tok::RBrace]),
            }
            if !self.eat(&Tok::Comma) && !self.at(&Tok::RBrace) {
                let hint = self.missing_comma_hint("variants");
                let err = self.expected("`,` or `}`", hint);
                self.skip_until(&[Tok::Comma, Tok::RBrace]);
                if !self.eat(&Tok::Comma) && !self.at(&Tok::RBrace) {
                    return Err(err);
                }
            }
        }
    }

    fn variant(&mut self) -> PResult<Variant> {
        let docs = self.peek_docs();
        let name = self.ident("a variant name")?;
        let payload = match self.peek() {
            Tok::LParen => {
                self.bump();
                let mut types = Vec::new();
                while !self.eat(&Tok::RParen) {
                    types.push(self.ty(0)?);
                    if !self.eat(&Tok::Comma) && !self.at(&Tok::RParen) {
                        return Err(self.expected("`,` or `)`", None));
                    }
                }
                Payload::Tuple(types)
            }
            Tok::LBrace => Payload::Struct(self.fields_in(Tok::LBrace, Tok::RBrace)?),
            _ => Payload::Unit,
        };
        let message = if self.eat(&Tok::Eq) { Some(self.lit()?) } else { None };
        Ok(Variant { docs, name, payload, message })
    }

    fn interface(&mut self) -> PResult<Interface> {
        let throws = if self.is_ident("throws") {
            self.bump();
            Some(self.ty(0)?)
        } else {
            None
        };
        self.expect(&Tok::LBrace, None)?;
        let mut methods = Vec::new();
        loop {
            if self.eat(&Tok::RBrace) {
                return Ok(Interface { throws, methods });
            }
            if self.at(&Tok::Eof) {
                return Err(self.expected("`}`", None));
            }
            let start = self.pos;
            match self.method() {
                Ok(m) => methods.push(m),
                Err(Reported) => {
                    self.skip_until(&[Tok::Semi, Tok::RBrace]);
                    self.eat(&Tok::Semi);
                    if self.pos == start {
                        self.bump();
                    }
                }
            }
        }
    }

    fn method(&mut self) -> PResult<Method> {
        let docs = self.peek_docs();
        let attrs = self.attrs()?;
        if self.is_ident("fn") || self.is_ident("async") {
            return Err(self.expected(
                "a method name",
                Some("methods are written `name(arg: type) -> type;`, without `fn` or `async`".into()),
            ));
        }
        let name = self.ident("a method name")?;
        let args = self.fields_in(Tok::LParen, Tok::RParen)?;
        let ret = if self.eat(&Tok::Arrow) { Some(self.ty(0)?) } else { None };
        let throws = if self.is_ident("throws") {
            self.bump();
            Some(self.ty(0)?)
        } else {
            None
        };
        let value = if self.eat(&Tok::Eq) { Some(self.lit()?) } else { None };
        let hint = match self.peek() {
            Tok::Colon => Some("results are written `-> type`, not `: type`"),
            Tok::Ident(s) if s == "raises" || s == "throw" => Some("errors are written `throws ErrorType`"),
            _ => Some("end each method with `;`"),
        };
        self.expect(&Tok::Semi, hint)?;
        Ok(Method { docs, attrs, span: name.span.to(self.prev_span()), name, args, ret, throws, value })
    }

    fn model(&mut self) -> PResult<Model> {
        let open = self.expect(&Tok::LBrace, None)?;
        let mut state = None;
        let mut events = None;
        loop {
            if self.eat(&Tok::RBrace) {
                break;
            }
            let section = self.peek_span();
            if self.is_ident("state") && state.is_none() {
                self.bump();
                state = Some(self.fields_in(Tok::LBrace, Tok::RBrace)?);
            } else if self.is_ident("events") && events.is_none() {
                self.bump();
                events = Some(self.variants()?);
            } else {
                let _ = section;
                return Err(self.expected(
                    "`state { ... }` or `events { ... }` (once each)",
                    Some("a model is `model Name { state { field: type } events { Variant(type) } }`".into()),
                ));
            }
        }
        let Some(state) = state else {
            self.diags.push(
                Diagnostic::error(Kind::Syntax, open, "a model needs a `state { ... }` section")
                    .label("no state in this model")
                    .hint("add `state { field: type, ... }`: what a cache mirrors"),
            );
            return Err(Reported);
        };
        Ok(Model { state, events: events.unwrap_or_default() })
    }
}
