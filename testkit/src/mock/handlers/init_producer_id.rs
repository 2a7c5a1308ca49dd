//! InitProducerId (22).
//!
//! Without a transactional id: a new producer id with epoch 0, every time (Kafka's coordinator
//! does not keep state for idempotent producers, so a v3+ request naming its current id and
//! epoch also gets a fresh id). With a transactional id: the id's producer id, its epoch bumped
//! on every call (fencing older instances); a new id starts at epoch 0. The mock has no
//! transaction coordinator beyond this: transactional produce works, markers are written with
//! the control API.

use gregor_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

use super::{Ctx, Handle, Reply};

impl Handle for InitProducerIdRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<InitProducerIdResponse> {
        let (producer_id, producer_epoch) =
            cx.state.init_producer_id(self.transactional_id.as_deref());
        Reply::Respond(InitProducerIdResponse {
            producer_id,
            producer_epoch,
            ..InitProducerIdResponse::default()
        })
    }
}
