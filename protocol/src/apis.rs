//! The list of every API gregor speaks, as a macro, so tests, fuzz targets and the mock broker
//! can generate code for all of them from one place.

/// Calls `$callback!` with one `(ApiKey variant, request type, response type)` entry per API.
///
/// ```
/// macro_rules! count {
///     ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => { [$(stringify!($key)),*].len() };
/// }
/// assert_eq!(gregor_protocol::for_each_api!(count), gregor_protocol::ApiKey::ALL.len());
/// ```
#[macro_export]
macro_rules! for_each_api {
    ($callback:ident) => {
        $callback! {
            (ApiVersions, $crate::messages::ApiVersionsRequest, $crate::messages::ApiVersionsResponse),
        }
    };
}
