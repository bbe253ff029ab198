"""What the wallet services say when they refuse (R23-R25), in plain words.

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

# R18, R23: at the counter, a clerk of the person's region acts for them, having seen a card
WALLET_COUNTER_NOT_ALLOWED = _("您没有在窗口办理医保钱包的权限")
WALLET_OUT_OF_REGION = _("该参保人不属于您负责的统筹区，不能为其办理医保钱包")
WALLET_DOCS_MISSING = _("请查验参保人本人的居民身份证或社会保障卡，并勾选查验的证件")
WALLET_DOCS_INVALID = _("查验的证件只能是居民身份证或社会保障卡")

# R23
WALLET_NOT_OPEN = _("您的医保钱包未开通或已关闭")
WALLET_NOT_EMPTY = _("医保钱包内还有余额，余额为零时才能关闭")
# R26
WALLET_PREMIUM_SHORT = _(
    "医保钱包余额%(balance)s元，不足以缴纳%(amount)s元的保费：请改用其他方式缴费"
)
WALLET_TRANSFER_PENDING = _("有一笔转入您钱包的转账等您处理：接收或拒收后才能关闭")

# R24: who may send, to whom
TRANSFER_SENDER_NOT_EMPLOYEE = _("只有职工医保参保人才能从个人账户向医保钱包转账")
TRANSFER_SENDER_NOT_NORMAL = _("您的参保状态不是正常参保，暂时不能转账")
TRANSFER_INVALID_RELATION = _("只能转给配偶、父母、子女等近亲属，请选择您与对方的关系")
TRANSFER_RECIPIENT_NOT_FOUND = _("姓名与身份证号码不匹配：请按对方身份证上的信息重新填写")
TRANSFER_TO_SELF = _("不能转给自己：本人就医直接使用个人账户即可")
TRANSFER_WALLET_NOT_OPEN = _("对方还没有开通医保钱包（或已关闭）：请对方先在“医保钱包”页面开通")
TRANSFER_KEY_REUSED = _("这个页面已经提交过另一笔转账：请返回医保钱包重新办理")
TRANSFER_NOT_YOURS = _("只能由参保人本人办理转账")

# R24: the limits
TRANSFER_AMOUNT_NOT_POSITIVE = _("转账金额必须大于0")
TRANSFER_AMOUNT_FORMAT = _("转账金额最多保留两位小数，例如 500 或 500.00")
TRANSFER_AMOUNT_TOO_LARGE = _("每笔转账最多2000.00元：请分次转账")
TRANSFER_NIGHT = _("每天22:00至次日06:00暂停转账：请在06:00以后再办理")
TRANSFER_DAILY_LIMIT = _("您今天已转账3笔，每天最多3笔：请明天再转")
TRANSFER_PENDING = _("您还有一笔转账等对方接收：对方接收、拒收或到期退回后才能再转")
TRANSFER_ABOVE_AVAILABLE = _(
    "个人账户可转金额为%(available)s元（本地须保留%(floor)s元）：请改小转账金额"
)

# R25: answering
TRANSFER_NOT_FOR_YOU = _("这笔转账不是转给您的")
TRANSFER_NOT_PENDING = _("这笔转账已经办结（已接收、已拒收或已退回），无需再处理")
TRANSFER_ANSWER_LATE = _("这笔转账已过接收截止时间，款项将退回转出人的个人账户")

# R24: what the send page says before anything is typed, and the password asked again
TRANSFER_NOTHING_AVAILABLE = _("个人账户暂无可转金额（本地须保留%(floor)s元），暂时不能转账")
TRANSFER_AMOUNT_INVALID = _("请输入转账金额，例如 500 或 500.00")
TRANSFER_VERIFICATION_FAILED = _("身份核验未通过，密码错误")
# R27: clearing
CLEARING_NOT_YOUR_REGION = _("只能由该批次所涉统筹区的经办人员确认本方")
CLEARING_ALREADY_CONFIRMED = _("本方已确认过该清算批次")
