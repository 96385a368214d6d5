//! A socket's `data`: an application's own type, kept serializable.
//!
//! Handlers read it far more often than it changes, so it is kept as an `Arc` of the
//! application's type and a read is a reference count, not a copy. It must stay
//! serializable because it leaves the process: `fetch_sockets` carries it to other
//! servers, connection state recovery keeps it for a client that comes back, admin
//! tools show it. Data that arrives as JSON (a recovered session) is converted to the
//! type the first handler asks for, once.

use crate::sync::lock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::any::Any;
use std::sync::{Arc, Mutex};

/// What can be kept as a socket's data.
trait Stored: Any + Send + Sync {
    fn to_json(&self) -> Result<Value, serde_json::Error>;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<T: Serialize + Send + Sync + 'static> Stored for T {
    fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

#[derive(Default)]
enum Slot {
    #[default]
    Empty,
    Typed(Arc<dyn Stored>),
    Json(Value),
}

/// One socket's data.
#[derive(Default)]
pub(crate) struct SocketData(Mutex<Slot>);

impl SocketData {
    /// Data that arrived as JSON, from a recovered session.
    pub(crate) fn from_json(value: Value) -> Self {
        SocketData(Mutex::new(match value {
            Value::Null => Slot::Empty,
            value => Slot::Json(value),
        }))
    }

    pub(crate) fn set<T: Serialize + Send + Sync + 'static>(&self, value: T) {
        *lock(&self.0) = Slot::Typed(Arc::new(value));
    }

    /// The data as `T`: shared when it was stored as `T`, converted through JSON
    /// otherwise (and kept as `T` when it was JSON). `None` when there is none or it
    /// does not convert.
    pub(crate) fn get<T>(&self) -> Option<Arc<T>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let mut slot = lock(&self.0);
        match &*slot {
            Slot::Empty => None,
            Slot::Typed(stored) => match stored.clone().into_any().downcast::<T>() {
                Ok(typed) => Some(typed),
                Err(_) => {
                    let json = stored.to_json().ok()?;
                    serde_json::from_value(json).ok().map(Arc::new)
                }
            },
            Slot::Json(json) => {
                let typed: Arc<T> = Arc::new(T::deserialize(json).ok()?);
                *slot = Slot::Typed(typed.clone());
                Some(typed)
            }
        }
    }

    /// The data as JSON, as it crosses the cluster or waits for a client to come back;
    /// `null` when there is none.
    pub(crate) fn to_json(&self) -> Value {
        match &*lock(&self.0) {
            Slot::Empty => Value::Null,
            Slot::Typed(stored) => stored.to_json().unwrap_or_else(|e| {
                tracing::warn!("socket data does not serialize: {e}");
                Value::Null
            }),
            Slot::Json(json) => json.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct User {
        name: String,
    }

    fn alice() -> User {
        User {
            name: "alice".into(),
        }
    }

    #[test]
    fn typed_data_is_shared_not_copied() {
        let data = SocketData::default();
        data.set(alice());
        let a = data.get::<User>().unwrap();
        let b = data.get::<User>().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(data.to_json(), serde_json::json!({"name": "alice"}));
    }

    #[test]
    fn json_data_converts_once_to_the_type_asked_for() {
        let data = SocketData::from_json(serde_json::json!({"name": "alice"}));
        let a = data.get::<User>().unwrap();
        assert_eq!(*a, alice());
        assert!(Arc::ptr_eq(&a, &data.get::<User>().unwrap()));
        assert_eq!(data.to_json(), serde_json::json!({"name": "alice"}));
    }

    #[test]
    fn another_type_reads_through_json_and_a_wrong_shape_reads_none() {
        let data = SocketData::default();
        assert!(data.get::<User>().is_none());
        assert_eq!(data.to_json(), Value::Null);
        data.set(alice());
        assert_eq!(
            *data.get::<Value>().unwrap(),
            serde_json::json!({"name": "alice"})
        );
        assert!(data.get::<Vec<u8>>().is_none());
        assert_eq!(*data.get::<User>().unwrap(), alice());
    }
}
