"""How long a person's text may be, declared once: the models' ``max_length``,
the API serializers and the services' own checks all read these, so a limit
is changed in one place and the three never disagree.

The limits are in characters (Python ``len``), as PostgreSQL counts them.
"""

# A case's description: what was seen, as its reporter tells it.
DESCRIPTION = 4000
# The text a step of the workflow takes: a note, a reason, a message, a comment.
NOTE = 2000
# The department's reply to the reporter on reporting a case handled: public,
# on the tracking page, so a few plain sentences.
REPLY = 1000
# Where the case is, in words, next to its point.
ADDRESS = 255
# Who reported it, when they say (hotline callers, citizens without an account).
REPORTER_NAME = 100
REPORTER_PHONE = 30
REPORTER_EMAIL = 254
# A link to the reporter's own media (Open311 ``media_url``).
MEDIA_URL = 500
# An idempotency key (``Idempotency-Key`` header or ``client_uuid``).
IDEMPOTENCY_KEY = 100
# Answers to a category's questions (Open311 attributes): a one-line string
# and a free text.
ATTRIBUTE_STRING = 200
ATTRIBUTE_TEXT = 4000
