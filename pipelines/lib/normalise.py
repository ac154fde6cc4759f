"""Identifier normalisation for identity resolution: the Python twin of the dbt macros.

The warehouse normalises identifiers in SQL (``dbt_project/macros/identity/``); this
module states the same rules in plain Python so they can be read, unit-tested and used
outside dbt (generator checks, ad-hoc look-ups). ``tests/unit/test_normalise.py`` runs one
table of cases through both and fails if they disagree, so change them together.

Rules (after the deterministic identity graphs of Segment Unify and Hightouch):

* e-mail: trim + lower case; must look like ``local@domain.tld`` or it is ``None``; a
  ``*`` (legal, but in practice a masked address such as Alipay's ``abc***@qq.com``, which
  would collide across people) makes it ``None``. Only
  for Gmail (``gmail.com``/``googlemail.com``), where Google documents that dots and a
  ``+tag`` in the local part do not change the mailbox, those are removed and the domain is
  canonicalised to ``gmail.com``. Other providers (QQ, 163, Outlook...) are left alone:
  a dot there can be a different mailbox.
* phone: E.164 (``+<country><number>``). Separators, a leading apostrophe (Excel guard)
  and a ``(0)`` trunk marker are dropped; ``+`` or ``00`` mark an explicit country code;
  an 11-digit Chinese mobile (``1[3-9]…``) or ``86`` + mobile gets ``+86``; a national
  number with trunk ``0`` gets the default country code (dbt var
  ``default_country_code``). Chinese numbers are checked for a plausible length; anything
  else that is not 8-15 digits, or contains letters, is ``None``.
* social handle: ``<platform>:<handle>``, both trimmed and lower case, leading ``@``
  removed; handles are only unique within a platform.
* loyalty card: upper case, spaces and dashes removed.
* Tmall nick: trim + lower case.
* person name (only used to count distinct names per phone/e-mail): lower case with
  whitespace and name punctuation removed, so ``"Wang  Fang"`` and ``"wang fang"`` agree.
"""

from __future__ import annotations

import re

from pipelines.lib.dbt_project_file import project_vars

# The regular expressions are written once here and copied verbatim into the SQL macros
# (RE2 syntax, no backslashes, so they survive every SQL dialect's string literals).
EMAIL_PATTERN = "^[a-z0-9!#$%&'+/=?^_`{|}~.-]+@([a-z0-9]([a-z0-9-]*[a-z0-9])?[.])+[a-z]{2,}$"
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
PHONE_CHARS_PATTERN = "^[-+0-9 ().]+$"
CN_MOBILE_PATTERN = "^1[3-9][0-9]{9}$"
# Chinese national significant number: mobile, Beijing landline (10 + 8), other landlines
# (2-3 digit area code without the trunk 0, then 7-8 digits).
CN_NATIONAL_PATTERN = "^(1[3-9][0-9]{9}|10[0-9]{8}|[2-9][0-9]{8,10})$"
INTERNATIONAL_PATTERN = "^[1-9][0-9]{7,14}$"
TRUNK_PATTERN = "^0[1-9][0-9]{7,10}$"
NAME_STRIP_PATTERN = "[ \u3000.,'·•_-]"


def dbt_var(name: str) -> object:
    """A var from ``dbt_project.yml``: the one place the tunables are declared."""
    return project_vars()[name]


def default_country_code() -> str:
    return str(dbt_var("default_country_code"))


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    # Only ASCII spaces, like SQL trim(): staging already trimmed the raw text.
    value = value.strip(" ")
    return value or None


def _matches(pattern: str, value: str) -> bool:
    return re.search(pattern, value) is not None


def normalise_email(value: str | None) -> str | None:
    email = _clean(value)
    if email is None:
        return None
    email = email.lower()
    if not _matches(EMAIL_PATTERN, email):
        return None
    local, domain = email.split("@", 1)
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        return f"{local}@gmail.com" if local else None
    return email


def _cn_national(national: str) -> str | None:
    return f"+86{national}" if _matches(CN_NATIONAL_PATTERN, national) else None


def normalise_phone(value: str | None, country_code: str | None = None) -> str | None:
    cc = country_code or default_country_code()
    phone = _clean(value)
    if phone is None:
        return None
    if phone.startswith("'"):
        phone = phone[1:].strip(" ")
    phone = phone.replace("(0)", "")
    if not _matches(PHONE_CHARS_PATTERN, phone):
        return None
    digits = re.sub("[^0-9]", "", phone)
    explicit = phone.startswith("+")
    if not explicit and digits.startswith("00"):
        explicit, digits = True, digits[2:]
    if explicit:
        if digits.startswith("86"):
            national = digits[2:]
            return _cn_national(national[1:] if national.startswith("0") else national)
        return f"+{digits}" if _matches(INTERNATIONAL_PATTERN, digits) else None
    if _matches(CN_MOBILE_PATTERN, digits):
        return f"+86{digits}"
    if digits.startswith("86") and _matches(CN_MOBILE_PATTERN, digits[2:]):
        return f"+{digits}"
    if _matches(TRUNK_PATTERN, digits):
        if cc == "86":
            return _cn_national(digits[1:])
        full = cc + digits[1:]
        return f"+{full}" if _matches(INTERNATIONAL_PATTERN, full) else None
    return None


def normalise_handle(platform: str | None, handle: str | None) -> str | None:
    platform, handle = _clean(platform), _clean(handle)
    if platform is None or handle is None:
        return None
    handle = _clean(re.sub("^@+", "", handle))
    if handle is None:
        return None
    return f"{platform.lower()}:{handle.lower()}"


def normalise_loyalty_card(value: str | None) -> str | None:
    card = _clean(value)
    if card is None:
        return None
    return re.sub("[ -]", "", card).upper() or None


def normalise_tmall_nick(value: str | None) -> str | None:
    nick = _clean(value)
    return nick.lower() if nick is not None else None


def normalise_person_name(value: str | None) -> str | None:
    name = _clean(value)
    if name is None:
        return None
    return re.sub(NAME_STRIP_PATTERN, "", name.lower()) or None
