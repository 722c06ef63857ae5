//! The golden generated files compile as they stand (warnings denied, also
//! without the implicit prelude), and behave as documented.

#![deny(warnings)]
// Not every generated item is used by these tests.
#![allow(dead_code)]

mod common {
    include!("golden/gen/expected/common.rs");
}
mod shop {
    include!("golden/gen/expected/shop.rs");
}
mod kitchen_sink {
    include!("golden/gen/expected/kitchen.sink.rs");
}

/// Generated code names only absolute paths.
#[no_implicit_prelude]
mod hygiene {
    include!("golden/gen/expected/kitchen.sink.rs");
}

use pb::Interface;

#[test]
fn error_messages() {
    use kitchen_sink::Oops;
    assert_eq!(Oops::Plain.to_string(), "The first doc line is the default message ({braces} escaped)");
    assert_eq!(Oops::NoDoc.to_string(), "no doc");
    assert_eq!(Oops::Positional("bake".into(), 3).to_string(), "bake failed 3 times");
    assert_eq!(Oops::Named { what: "fry".into() }.to_string(), "cannot \"fry\" {braces}");
    let e: Oops = pb::Error::Disconnected.into();
    assert_eq!(e, Oops::Pb(pb::Error::Disconnected));
    assert_eq!(e.to_string(), pb::Error::Disconnected.to_string());
    assert_eq!(common::Failure::Denied("x".into()).to_string(), "denied: x");
    fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
    is_error::<Oops>();
}

#[test]
fn wire_identities() {
    type K = dyn kitchen_sink::Kitchen;
    assert_eq!(<K as Interface>::NAME, "kitchen.Renamed");
    assert_eq!(<K as Interface>::ID, 42);
    let ids: Vec<(&str, u32)> = <K as Interface>::METHODS.iter().map(|m| (m.name, m.id)).collect();
    assert!(ids.contains(&("ping", pb_idl::method_id("ping"))));
    assert!(ids.contains(&("weigh_v2", pb_idl::method_id("weigh_v2"))));
    assert!(ids.contains(&("by_id", 7)));
    assert!(!ids.iter().any(|(n, _)| *n == "name"), "local methods are not on the wire");
    let oven = <K as Interface>::METHODS.iter().find(|m| m.name == "oven").unwrap();
    assert!(oven.replay);
    assert!(<K as Interface>::METHODS.iter().find(|m| m.name == "weigh_v2").unwrap().idempotent);
    type S = dyn shop::Shop;
    assert_eq!(<S as Interface>::NAME, "shop.Shop");
    assert_eq!(<S as Interface>::ID, pb_idl::interface_id("shop.Shop"));
}

#[test]
fn derives_and_cross_package_types() {
    let item = shop::Item { sku: "a".into(), price: common::Money { cents: 5, currency: "EUR".into() } };
    assert_eq!(item.clone(), item);
    let tree = kitchen_sink::Tree {
        value: 1,
        left: Some(Box::new(kitchen_sink::Tree { value: 2, left: None, children: vec![] })),
        children: vec![],
    };
    assert_eq!(format!("{tree:?}").matches("Tree").count(), 2);
}

#[test]
fn records_travel_to_twisted_as_copies_tagged_with_their_qualified_name() {
    use pb_runtime::wire::twisted::banana::Value;
    use pb_runtime::wire::twisted::jelly::{self, form};
    let money = common::Money { cents: -5, currency: "EUR".into() };
    let expected = Value::List(vec![
        Value::bytes(b"common.Money"),
        form::dictionary([(form::unicode("cents"), Value::Int(-5)), (form::unicode("currency"), form::unicode("EUR"))]),
    ]);
    let value = jelly::to_value(&money).unwrap();
    assert_eq!(value, expected);
    assert_eq!(jelly::from_value::<common::Money>(&value).unwrap(), money);
    // Postcard ignores the name.
    let bytes = postcard::to_stdvec(&money).unwrap();
    assert_eq!(postcard::from_bytes::<common::Money>(&bytes).unwrap(), money);
    // A copy of another tag is refused.
    let other = Value::List(vec![Value::bytes(b"common.Other"), form::dictionary([])]);
    assert!(jelly::from_value::<common::Money>(&other).is_err());
}

impl kitchen_sink::PantryApply for kitchen_sink::Pantry {
    fn apply_event(&mut self, event: &kitchen_sink::PantryEvent) {
        match event {
            kitchen_sink::PantryEvent::Stocked { item, count } => {
                self.stock.insert(item.clone(), *count);
            }
            kitchen_sink::PantryEvent::Emptied(item) => {
                self.stock.remove(item);
            }
            kitchen_sink::PantryEvent::Cleared => self.stock.clear(),
        }
    }
}

impl hygiene::PantryApply for hygiene::Pantry {
    fn apply_event(&mut self, _: &hygiene::PantryEvent) {}
}

#[test]
fn models_are_cacheable() {
    use kitchen_sink::{Pantry, PantryEvent};
    assert_eq!(<Pantry as pb::Cacheable>::NAME, "kitchen.Larder");
    let model = pb::Model::new(Pantry { stock: Default::default(), shape: None });
    model.apply(PantryEvent::Stocked { item: "flour".into(), count: 2 });
    let cache: pb::Cache<Pantry> = model.cache();
    assert_eq!(cache.state().stock.get("flour"), Some(&2));
    let snapshot = kitchen_sink::Snapshot { pantry: cache.clone(), others: vec![cache] };
    let _ = snapshot.clone();
    model.apply(PantryEvent::Cleared);
    assert!(model.state().stock.is_empty());
}

struct Local;

#[pb::remote_impl]
impl kitchen_sink::Kitchen for Local {
    async fn ping(&self) -> Result<(), pb::Error> {
        Ok(())
    }
    async fn cook(&self, _shape: kitchen_sink::Shape) -> Result<kitchen_sink::Tree, kitchen_sink::Oops> {
        Err(kitchen_sink::Oops::Plain)
    }
    async fn oven(&self) -> Result<std::sync::Arc<dyn kitchen_sink::Kitchen>, pb::Error> {
        Ok(std::sync::Arc::new(Local))
    }
    async fn weigh(&self, grams: u64) -> Result<f64, pb::Error> {
        Ok(grams as f64 / 1000.0)
    }
    async fn by_id(&self) -> Result<(), pb::Error> {
        Ok(())
    }
    async fn pantry(&self) -> Result<pb::Cache<kitchen_sink::Pantry>, pb::Error> {
        Err(pb::Error::Disconnected)
    }
}

#[test]
fn local_methods_return_their_constants() {
    use kitchen_sink::Kitchen;
    let k = Local;
    assert_eq!(k.name(), "kitchen");
    assert!(k.open());
    assert_eq!(k.floors(), -2);
    assert_eq!(k.ratio(), 0.5);
}
