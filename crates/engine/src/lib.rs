//! Engine.IO v4 server.
