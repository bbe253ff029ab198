"""What the wallet services say when they refuse (R23), in plain words.

As in family/errors.py: one constant per refusal, raised with its own code, the constant's name
in lower case (`ValidationError(WALLET_ALREADY_OPEN, code="wallet_already_open")`); the rule is
in the comment above each one, never in the text a citizen reads."""

from django.utils.translation import gettext_lazy as _

# R23
WALLET_NOT_OFFERED = _("您的参保地暂未开通医保钱包")
WALLET_PERSON_NOT_NORMAL = _("只有正常参保状态的参保人才能使用医保钱包")
WALLET_ALREADY_OPEN = _("您已开通医保钱包，无需重复开通")
WALLET_PLACE_NOT_CONFIRMED = _("请确认您的参保地")
WALLET_PHONE_NOT_CONFIRMED = _("请确认您的手机号码")
WALLET_NOT_YOURS = _("只能由参保人本人办理医保钱包")

# R23
WALLET_NOT_OPEN = _("您的医保钱包未开通或已关闭")
WALLET_NOT_EMPTY = _("医保钱包内还有余额，余额为零时才能关闭")
