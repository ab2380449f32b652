//! The one mapping from the messaging service's refusals to SMTP replies (RFC 5321
//! codes, RFC 3463 enhanced status codes).

use sante_messaging::Refusal;

/// The reply to a refusal: code, enhanced status, text.
pub fn refusal_reply(refusal: &Refusal) -> (u16, &'static str, String) {
    let text = refusal.to_string();
    match refusal {
        Refusal::RelayDenied => (550, "5.7.1", "Relay access denied".into()),
        Refusal::UnknownRecipient => (550, "5.1.1", "No such mailbox here".into()),
        Refusal::RecipientDisabled => (550, "5.2.1", "Mailbox disabled".into()),
        Refusal::SenderMismatch => (
            553,
            "5.7.1",
            "Sender address must be the authenticated user's own address".into(),
        ),
        Refusal::SenderNotPartner => (550, "5.7.1", text),
        Refusal::RecipientFull => (552, "5.2.2", "Mailbox full".into()),
        Refusal::SenderFull => (552, "5.2.2", text),
        Refusal::TooBig => (
            552,
            "5.3.4",
            "Message size exceeds fixed maximum message size".into(),
        ),
        Refusal::TooManyRecipients => (452, "4.5.3", "Too many recipients".into()),
        Refusal::Infected(_) => (554, "5.7.1", text),
        Refusal::ScanUnavailable => (451, "4.3.0", text),
        Refusal::UnscannableArchive => (554, "5.7.1", text),
        Refusal::Malformed(_) => (550, "5.6.0", text),
        Refusal::BareLineBreak => (550, "5.5.2", text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_refusals_are_5xx_and_temporary_ones_4xx() {
        for r in [
            Refusal::RelayDenied,
            Refusal::UnknownRecipient,
            Refusal::RecipientDisabled,
            Refusal::SenderMismatch,
            Refusal::SenderNotPartner,
            Refusal::RecipientFull,
            Refusal::SenderFull,
            Refusal::TooBig,
            Refusal::TooManyRecipients,
            Refusal::Infected("X".into()),
            Refusal::ScanUnavailable,
            Refusal::UnscannableArchive,
            Refusal::Malformed("m"),
            Refusal::BareLineBreak,
        ] {
            let (code, status, _) = refusal_reply(&r);
            let temporary = r.is_temporary() || matches!(r, Refusal::TooManyRecipients);
            assert_eq!(code / 100 == 4, temporary, "{r:?}");
            assert_eq!(status.starts_with('4'), temporary, "{r:?}");
        }
    }
}
