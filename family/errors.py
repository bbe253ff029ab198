"""What the family services and checks say when they refuse (R1–R22), in plain words.

One constant per refusal, raised with its own code: the constant's name in lower case
(`ValidationError(WINDOW_END_PAST, code="window_end_past")`), which views map to form fields and
tests assert. The rule each one enforces is in the comment above it, never in the text a citizen
reads (tests/family/test_error_codes.py keeps both true)."""

from django.utils.translation import gettext_lazy as _

# R1
REL_INVALID_RELATION = _("关系须为配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女或外孙子女")
REL_SELF = _("不能将本人绑定为自己的共济成员")

# R2
HOLDER_NOT_EMPLOYEE = _("主账户人须为职工医保参保人")
HOLDER_NOT_NORMAL = _("主账户人须为正常参保状态")
HOLDER_NO_BALANCE = _("主账户人个人账户须有结余才能设立家庭共济关系")

# R3
MEMBER_NOT_FOUND = _("未找到该身份证号码和姓名对应的参保人，家庭成员须为基本医疗保险参保人员")
MEMBER_NOT_NORMAL = _("家庭成员须为正常参保状态")
MEMBER_OUT_OF_SCOPE = _("家庭成员不在本统筹区政策规定的共济范围内（%(scope)s）")

# R4, R5
MEMBER_ALREADY_BOUND_HERE = _("该家庭成员已在您的家庭共济关系中")
MEMBER_DUPLICATED = _("同一家庭成员只能填写一次")

# R5
MEMBER_IN_OTHER_RELATIONSHIP = _(
    "该家庭成员已加入其他家庭共济关系，按本统筹区政策只能加入一个，须先退出后再加入"
)
MEMBER_IS_HOLDER_ELSEWHERE = _(
    "该家庭成员已设立本人的家庭共济关系，按本统筹区政策每人只能加入一个家庭共济关系"
)
HOLDER_IS_MEMBER_ELSEWHERE = _(
    "您已是其他家庭共济关系的共济成员，按本统筹区政策只能加入一个，须先退出后再设立"
)

NO_MEMBERS = _("请至少添加一名家庭成员")

# R6
WINDOW_START_PAST = _("授权开始时间不得早于当前时间")
WINDOW_END_NOT_AFTER_START = _("授权结束时间须晚于开始时间")
WINDOW_END_PAST = _("授权结束时间须晚于当前时间")
WINDOW_TOO_LONG = _("授权期限不能超过本统筹区规定的%(days)s天")
WINDOW_END_REQUIRED = _("本统筹区规定授权须设置结束时间（最长%(days)s天）")

# R7
SIGNATURE_NAME_MISMATCH = _("签名须与主账户人登记的姓名完全一致")
LETTER_CHANGED = _("承诺书内容已发生变化，请重新阅读后再签署")

# R7, R22
NOT_THE_HOLDER = _("承诺书只能由主账户人本人签署")

# R8
CONSENT_NOT_PENDING = _("该授权不在待确认状态")
CONSENT_LAPSED = _("确认期限已过，该绑定请求已失效")

# R8, R22
CONSENT_NOT_YOURS = _("只有共济成员本人或其监护人可以答复")

# R8
CONSENT_VERIFICATION_FAILED = _("身份核验未通过，密码错误")

# R22
CONSENT_GUARDIAN_REQUIRED = _("该成员无民事行为能力，须由监护人代为答复")

# R10
ORDER_NOT_ALLOWED = _("扣款顺序由共济成员本人设置；未成年成员由其主账户人或监护人设置")
ORDER_MISMATCH = _("扣款顺序须包含该成员全部有效授权，且每个授权只出现一次")

# R14, R15
NOT_LIVE = _("该授权已终止，无法再操作")

# R14 (STATUS_ENDED_NOTE: the note on what a transfer out or termination ended)
STATUS_ENDED_NOTE = _("参保关系转出或终止")
STATUS_UNCHANGED = _("参保状态未变化")

# R18, R20
STAFF_CHANNEL_ONLY = _("经办窗口和管理后台只能由经办人员办理")

# R21
MEMBERS_AT_ONCE_CAP = _("本统筹区规定同时绑定的共济成员不超过%(cap)s人")
MEMBERS_LIFETIME_CAP = _("本统筹区规定累计绑定的共济成员不超过%(cap)s人（同一人只计一次）")
CAP_INVALID = _("单笔支付上限须为大于0、最多两位小数的金额")

# R22
GUARDIAN_SELF = _("监护人不能是本人")
