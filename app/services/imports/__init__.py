"""Import Licence Renewal and Import Learners: upload → choose the columns → review
(every row not taken, with its reason) → commit through the same services as the
screens. The file is streamed into a temporary table and each row written to
`import_rows` once, already classified, so memory stays flat whatever the file's
size and the review is a handful of set-based statements.

- `batches`: the kept file and its batch (upload, preview, clean-up, the commit's end);
- `review`: staging and classifying every row, the summary, the rows not taken;
- `renewal`: Renew Licences; `learners`: Import Learners.
"""

from app.services.imports.batches import Preview, discard_stale, get_batch, preview, upload
from app.services.imports.learners import LearnersImported, commit_learners
from app.services.imports.renewal import StaleReview, commit_renewal
from app.services.imports.review import (
    Summary,
    reason_label,
    reason_text,
    rejected,
    rejected_page,
    review,
    taken,
    taken_page,
)

__all__ = [
    "LearnersImported",
    "Preview",
    "StaleReview",
    "Summary",
    "commit_learners",
    "commit_renewal",
    "discard_stale",
    "get_batch",
    "preview",
    "reason_label",
    "reason_text",
    "rejected",
    "rejected_page",
    "review",
    "taken",
    "taken_page",
    "upload",
]
