//! JSON <-> postcard by a schema type: how `pb call` encodes arguments it
//! does not have Rust types for, and decodes the reply.
//!
//! Postcard is simple: `bool`, `u8` and `i8` are one byte; wider integers
//! are LEB128 varints (signed ones zigzag-encoded first); floats are
//! little-endian; strings, byte strings, lists and maps are a varint length
//! then their items; an option is a `0` or a `1` and the value; a record is
//! its fields in order; an enum is the variant index as a varint, then its
//! payload.
//!
//! JSON as serde_json writes the same Rust types: records are objects,
//! `bytes` a list of numbers, `option` `null` or the value, unit `null`,
//! enums externally tagged (`"Unit"`, `{"Tuple": value}` or
//! `{"Tuple": [a, b]}`, `{"Struct": {..}}`), maps objects when their keys
//! are strings or integers (integer keys written as strings), else lists of
//! `[key, value]` pairs. Error types end with their `Pb` variant, which
//! holds a `pb::Error`: decoded with pb's own type and written as
//! `{"Pb": {"kind": .., "message": ..}}`.

use pb_idl::ir::{Def, DefKind, Field, Payload, Prim, Schema, Ty, Variant};
use serde_json::{Map, Number, Value};

/// Encode `value` as type `ty` onto `out`.
///
/// # Errors
///
/// The JSON does not fit the type (the message says where and what was expected).
pub fn encode(schema: &Schema, ty: &Ty, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    Encoder { schema }.ty(ty, value, out, "$")
}

/// Decode a value of type `ty` from the front of `input`, advancing it.
///
/// # Errors
///
/// The bytes end early or do not fit the type.
pub fn decode(schema: &Schema, ty: &Ty, input: &mut &[u8]) -> Result<Value, String> {
    Decoder { schema }.ty(ty, input)
}

struct Encoder<'a> {
    schema: &'a Schema,
}

fn put_varint(mut v: u128, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn zigzag(v: i64) -> u128 {
    u128::from(((v << 1) ^ (v >> 63)) as u64)
}

fn expected(what: &str, at: &str, got: &Value) -> String {
    format!("at {at}: expected {what}, found {got}")
}

impl Encoder<'_> {
    fn ty(&self, ty: &Ty, v: &Value, out: &mut Vec<u8>, at: &str) -> Result<(), String> {
        match ty {
            Ty::Prim(p) => self.prim(*p, v, out, at),
            Ty::Unit => match v {
                Value::Null => Ok(()),
                _ => Err(expected("null", at, v)),
            },
            Ty::Box(t) => self.ty(t, v, out, at),
            Ty::Option(t) => match v {
                Value::Null => {
                    out.push(0);
                    Ok(())
                }
                _ => {
                    out.push(1);
                    self.ty(t, v, out, at)
                }
            },
            Ty::List(t) => {
                let items = v.as_array().ok_or_else(|| expected("a list", at, v))?;
                put_varint(items.len() as u128, out);
                for (i, item) in items.iter().enumerate() {
                    self.ty(t, item, out, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            Ty::Map(k, t) => {
                let pairs: Vec<(Value, &Value)> = match v {
                    Value::Object(m) => m.iter().map(|(key, val)| (map_key(k, key), val)).collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|p| match p.as_array().map(Vec::as_slice) {
                            Some([key, val]) => Ok((key.clone(), val)),
                            _ => Err(expected("a [key, value] pair", at, p)),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(expected("a map (an object, or a list of [key, value] pairs)", at, v)),
                };
                put_varint(pairs.len() as u128, out);
                for (key, val) in pairs {
                    self.ty(k, &key, out, &format!("{at} (a key)"))?;
                    self.ty(t, val, out, &format!("{at}[{key}]"))?;
                }
                Ok(())
            }
            Ty::Def(d) => self.def(&self.schema.defs[*d], v, out, at),
            Ty::Ref(d) => Err(format!(
                "at {at}: `{}` is passed by reference, which `pb call` cannot build from JSON",
                self.schema.qualified(*d)
            )),
            Ty::Stream(_) => Err(format!(
                "at {at}: `{}` is a stream, which `pb call` cannot build from JSON",
                self.schema.display(ty)
            )),
            Ty::Sender(_) => Err(format!(
                "at {at}: `{}` is a sender, which `pb call` cannot build from JSON",
                self.schema.display(ty)
            )),
            Ty::Invalid => Err(format!("at {at}: an invalid type in the schema")),
        }
    }

    fn prim(&self, p: Prim, v: &Value, out: &mut Vec<u8>, at: &str) -> Result<(), String> {
        let int = |lo: i128, hi: i128| -> Result<i128, String> {
            let n = v
                .as_i64()
                .map(i128::from)
                .or_else(|| v.as_u64().map(i128::from))
                .ok_or_else(|| expected(&format!("an integer ({})", p.name()), at, v))?;
            if n < lo || n > hi {
                return Err(format!("at {at}: {n} is out of range for {}", p.name()));
            }
            Ok(n)
        };
        match p {
            Prim::Bool => out.push(u8::from(v.as_bool().ok_or_else(|| expected("true or false", at, v))?)),
            Prim::U8 => out.push(int(0, 255)? as u8),
            Prim::I8 => out.push(int(-128, 127)? as i8 as u8),
            Prim::U16 => put_varint(int(0, u16::MAX.into())? as u128, out),
            Prim::U32 => put_varint(int(0, u32::MAX.into())? as u128, out),
            Prim::U64 => put_varint(int(0, u64::MAX.into())? as u128, out),
            Prim::I16 => put_varint(zigzag(int(i16::MIN.into(), i16::MAX.into())? as i64), out),
            Prim::I32 => put_varint(zigzag(int(i32::MIN.into(), i32::MAX.into())? as i64), out),
            Prim::I64 => put_varint(zigzag(int(i64::MIN.into(), i64::MAX.into())? as i64), out),
            Prim::F32 => {
                let f = v.as_f64().ok_or_else(|| expected("a number", at, v))?;
                out.extend_from_slice(&(f as f32).to_le_bytes());
            }
            Prim::F64 => {
                let f = v.as_f64().ok_or_else(|| expected("a number", at, v))?;
                out.extend_from_slice(&f.to_le_bytes());
            }
            Prim::String => {
                let s = v.as_str().ok_or_else(|| expected("a string", at, v))?;
                put_varint(s.len() as u128, out);
                out.extend_from_slice(s.as_bytes());
            }
            Prim::Bytes => {
                let items = v.as_array().ok_or_else(|| expected("bytes (a list of numbers 0-255)", at, v))?;
                put_varint(items.len() as u128, out);
                for (i, b) in items.iter().enumerate() {
                    let b = b
                        .as_u64()
                        .filter(|b| *b <= 255)
                        .ok_or_else(|| expected("a byte (0-255)", &format!("{at}[{i}]"), b))?;
                    out.push(b as u8);
                }
            }
        }
        Ok(())
    }

    fn def(&self, def: &Def, v: &Value, out: &mut Vec<u8>, at: &str) -> Result<(), String> {
        match &def.kind {
            DefKind::Record(fields) => self.fields(fields, v, out, at, &def.name),
            DefKind::Enum(variants) | DefKind::Error(variants) => self.variant(def, variants, v, out, at),
            DefKind::Interface(_) => Err(format!("at {at}: `{}` is an interface (passed by reference)", def.name)),
            DefKind::Model { .. } => Err(format!("at {at}: `{}` is a cached model, not a value", def.name)),
        }
    }

    fn fields(&self, fields: &[Field], v: &Value, out: &mut Vec<u8>, at: &str, what: &str) -> Result<(), String> {
        let obj = v.as_object().ok_or_else(|| expected(&format!("an object (`{what}`)"), at, v))?;
        if let Some(extra) = obj.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
            return Err(format!("at {at}: `{what}` has no field `{extra}`"));
        }
        for f in fields {
            let value = obj.get(&f.name);
            let value = match (value, &f.ty) {
                (Some(v), _) => v,
                (None, Ty::Option(_) | Ty::Unit) => &Value::Null,
                (None, _) => return Err(format!("at {at}: missing field `{}` of `{what}`", f.name)),
            };
            self.ty(&f.ty, value, out, &format!("{at}.{}", f.name))?;
        }
        Ok(())
    }

    fn variant(&self, def: &Def, variants: &[Variant], v: &Value, out: &mut Vec<u8>, at: &str) -> Result<(), String> {
        let (name, payload) = match v {
            Value::String(s) => (s.as_str(), &Value::Null),
            Value::Object(m) if m.len() == 1 => {
                let (k, p) = m.iter().next().expect("one entry");
                (k.as_str(), p)
            }
            _ => return Err(expected(&format!("a variant of `{}` (\"Name\" or {{\"Name\": ..}})", def.name), at, v)),
        };
        let Some(index) = variants.iter().position(|x| x.name == name) else {
            let names: Vec<&str> = variants.iter().map(|x| x.name.as_str()).collect();
            return Err(format!(
                "at {at}: `{}` has no variant `{name}` (expected one of: {})",
                def.name,
                names.join(", ")
            ));
        };
        put_varint(index as u128, out);
        let at = format!("{at}.{name}");
        match &variants[index].payload {
            Payload::Unit => Ok(()),
            Payload::Tuple(fields) if fields.len() == 1 => self.ty(&fields[0].ty, payload, out, &at),
            Payload::Tuple(fields) => {
                let items = payload
                    .as_array()
                    .filter(|a| a.len() == fields.len())
                    .ok_or_else(|| expected(&format!("a list of {} values", fields.len()), &at, payload))?;
                for (i, (f, item)) in fields.iter().zip(items).enumerate() {
                    self.ty(&f.ty, item, out, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            Payload::Struct(fields) => self.fields(fields, payload, out, &at, name),
        }
    }
}

/// A JSON object key as a value of the map's key type.
fn map_key(k: &Ty, key: &str) -> Value {
    match k {
        Ty::Prim(Prim::String) => Value::String(key.to_string()),
        _ => serde_json::from_str(key).unwrap_or_else(|_| Value::String(key.to_string())),
    }
}

/// Decode the fields of a record (a model's state) as a JSON object.
///
/// # Errors
///
/// The bytes end early or do not fit.
pub fn decode_fields(schema: &Schema, fields: &[Field], input: &mut &[u8]) -> Result<Value, String> {
    Decoder { schema }.fields(fields, input)
}

/// Decode one value of an enum with `variants` (a model's event).
///
/// # Errors
///
/// The bytes end early or do not fit.
pub fn decode_variant(schema: &Schema, def: &Def, variants: &[Variant], input: &mut &[u8]) -> Result<Value, String> {
    Decoder { schema }.variant(def, variants, false, input)
}

struct Decoder<'a> {
    schema: &'a Schema,
}

fn take<'b>(input: &mut &'b [u8], n: usize) -> Result<&'b [u8], String> {
    if input.len() < n {
        return Err("the reply ends early".into());
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn varint(input: &mut &[u8]) -> Result<u128, String> {
    let mut v: u128 = 0;
    for shift in (0..128).step_by(7) {
        let b = take(input, 1)?[0];
        v |= u128::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a varint is too long".into())
}

fn unzigzag(v: u128) -> i64 {
    let v = v as u64;
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn len(input: &mut &[u8]) -> Result<usize, String> {
    let n = varint(input)?;
    // Every item takes at least a byte (or is a unit): a length beyond the
    // input is a lie, and is not allocated for.
    usize::try_from(n)
        .ok()
        .filter(|n| *n <= input.len().max(1) * 8)
        .ok_or_else(|| format!("a length of {n} is too long"))
}

impl Decoder<'_> {
    fn ty(&self, ty: &Ty, input: &mut &[u8]) -> Result<Value, String> {
        Ok(match ty {
            Ty::Prim(p) => self.prim(*p, input)?,
            Ty::Unit => Value::Null,
            Ty::Box(t) => self.ty(t, input)?,
            Ty::Option(t) => match take(input, 1)?[0] {
                0 => Value::Null,
                1 => self.ty(t, input)?,
                b => return Err(format!("an option tag of {b}")),
            },
            Ty::List(t) => {
                let n = len(input)?;
                Value::Array((0..n).map(|_| self.ty(t, input)).collect::<Result<_, _>>()?)
            }
            Ty::Map(k, t) => {
                let n = len(input)?;
                let mut pairs = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    pairs.push((self.ty(k, input)?, self.ty(t, input)?));
                }
                let keyed = pairs.iter().all(|(k, _)| k.is_string() || k.is_number());
                if keyed {
                    let mut m = Map::new();
                    for (k, v) in pairs {
                        let key = match k {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        m.insert(key, v);
                    }
                    Value::Object(m)
                } else {
                    Value::Array(pairs.into_iter().map(|(k, v)| Value::Array(vec![k, v])).collect())
                }
            }
            Ty::Def(d) => self.def(&self.schema.defs[*d], input)?,
            Ty::Ref(d) => {
                return Err(format!(
                    "`{}` is passed by reference, which `pb call` cannot print",
                    self.schema.qualified(*d)
                ));
            }
            Ty::Stream(_) => {
                return Err(format!("`{}` is a stream, which `pb call` cannot print", self.schema.display(ty)));
            }
            Ty::Sender(_) => {
                return Err(format!("`{}` is a sender, which `pb call` cannot print", self.schema.display(ty)));
            }
            Ty::Invalid => return Err("an invalid type in the schema".into()),
        })
    }

    fn prim(&self, p: Prim, input: &mut &[u8]) -> Result<Value, String> {
        Ok(match p {
            Prim::Bool => match take(input, 1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("a bool of {b}")),
            },
            Prim::U8 => Value::from(take(input, 1)?[0]),
            Prim::I8 => Value::from(take(input, 1)?[0] as i8),
            Prim::U16 | Prim::U32 | Prim::U64 => {
                let v = varint(input)?;
                let max = match p {
                    Prim::U16 => u128::from(u16::MAX),
                    Prim::U32 => u128::from(u32::MAX),
                    _ => u128::from(u64::MAX),
                };
                if v > max {
                    return Err(format!("{v} is out of range for {}", p.name()));
                }
                Value::from(v as u64)
            }
            Prim::I16 | Prim::I32 | Prim::I64 => Value::from(unzigzag(varint(input)?)),
            Prim::F32 => {
                let b: [u8; 4] = take(input, 4)?.try_into().expect("4 bytes");
                float(f64::from(f32::from_le_bytes(b)))
            }
            Prim::F64 => {
                let b: [u8; 8] = take(input, 8)?.try_into().expect("8 bytes");
                float(f64::from_le_bytes(b))
            }
            Prim::String => {
                let n = len(input)?;
                let s = std::str::from_utf8(take(input, n)?).map_err(|e| format!("a string that is not UTF-8: {e}"))?;
                Value::String(s.to_string())
            }
            Prim::Bytes => {
                let n = len(input)?;
                Value::Array(take(input, n)?.iter().map(|b| Value::from(*b)).collect())
            }
        })
    }

    fn def(&self, def: &Def, input: &mut &[u8]) -> Result<Value, String> {
        match &def.kind {
            DefKind::Record(fields) => self.fields(fields, input),
            DefKind::Enum(variants) => self.variant(def, variants, false, input),
            DefKind::Error(variants) => self.variant(def, variants, true, input),
            DefKind::Interface(_) => Err(format!("`{}` is an interface (passed by reference)", def.name)),
            DefKind::Model { .. } => Err(format!("`{}` is a cached model: use `pb watch`", def.name)),
        }
    }

    fn fields(&self, fields: &[Field], input: &mut &[u8]) -> Result<Value, String> {
        let mut m = Map::new();
        for f in fields {
            m.insert(f.name.clone(), self.ty(&f.ty, input)?);
        }
        Ok(Value::Object(m))
    }

    fn variant(&self, def: &Def, variants: &[Variant], error: bool, input: &mut &[u8]) -> Result<Value, String> {
        let index = usize::try_from(varint(input)?).unwrap_or(usize::MAX);
        if error && index == variants.len() {
            return Ok(tagged("Pb", pb_error(input)?));
        }
        let v = variants.get(index).ok_or_else(|| format!("`{}` has no variant {index}", def.name))?;
        Ok(match &v.payload {
            Payload::Unit => Value::String(v.name.clone()),
            Payload::Tuple(fields) if fields.len() == 1 => tagged(&v.name, self.ty(&fields[0].ty, input)?),
            Payload::Tuple(fields) => {
                let items = fields.iter().map(|f| self.ty(&f.ty, input)).collect::<Result<_, _>>()?;
                tagged(&v.name, Value::Array(items))
            }
            Payload::Struct(fields) => tagged(&v.name, self.fields(fields, input)?),
        })
    }
}

/// A `pb::Error` from the front of `input`, as `{"kind", "message"}`.
pub fn pb_error(input: &mut &[u8]) -> Result<Value, String> {
    let (e, rest): (pb::Error, &[u8]) =
        postcard::take_from_bytes(input).map_err(|e| format!("a pb::Error that does not decode: {e}"))?;
    *input = rest;
    Ok(error_json(&e))
}

/// A `pb::Error` as JSON: its kind (the variant's name) and message.
pub fn error_json(e: &pb::Error) -> Value {
    let debug = format!("{e:?}");
    let kind: String = debug.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let mut m = Map::new();
    m.insert("kind".into(), Value::String(kind));
    m.insert("message".into(), Value::String(e.to_string()));
    Value::Object(m)
}

fn tagged(name: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(name.to_string(), v);
    Value::Object(m)
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}
