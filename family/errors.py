"""What the family services and checks tell a person when they refuse (R1–R22).

Each constant is one refusal with its own error code (the constant's name in lower case); the
rule it enforces is named in the comment above it."""

from django.utils.translation import gettext_lazy as _

# R1
REL_INVALID_RELATION = _(
    "R1：关系须为配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女或外孙子女"
)


REL_SELF = _("R1：不能将本人绑定为自己的共济成员")


# R2
HOLDER_NOT_EMPLOYEE = _("R2：主账户人须为职工医保参保人")


HOLDER_NOT_NORMAL = _("R2：主账户人须为正常参保状态")


HOLDER_NO_BALANCE = _("R2：主账户人个人账户须有结余才能设立家庭共济关系")


# R3
MEMBER_NOT_FOUND = _("R3：未找到该身份证号码和姓名对应的参保人，家庭成员须为基本医疗保险参保人员")


MEMBER_NOT_NORMAL = _("R3：家庭成员须为正常参保状态")


MEMBER_OUT_OF_SCOPE = _("R3：家庭成员不在本统筹区政策规定的共济范围内（%(scope)s）")


# R4 / R5
MEMBER_ALREADY_BOUND_HERE = _("R4：该家庭成员已在您的家庭共济关系中")


MEMBER_DUPLICATED = _("同一家庭成员只能填写一次")


MEMBER_IN_OTHER_RELATIONSHIP = _(
    "R5：该家庭成员已加入其他家庭共济关系，按本统筹区政策只能加入一个，须先退出后再加入"
)


MEMBER_IS_HOLDER_ELSEWHERE = _(
    "R5：该家庭成员已设立本人的家庭共济关系，按本统筹区政策每人只能加入一个家庭共济关系"
)


HOLDER_IS_MEMBER_ELSEWHERE = _(
    "R5：您已是其他家庭共济关系的共济成员，按本统筹区政策只能加入一个，须先退出后再设立"
)


NO_MEMBERS = _("请至少添加一名家庭成员")


# R6
WINDOW_START_PAST = _("R6：授权开始时间不得早于当前时间")


WINDOW_END_NOT_AFTER_START = _("R6：授权结束时间须晚于开始时间")


WINDOW_END_PAST = _("R6：授权结束时间须晚于当前时间")


WINDOW_TOO_LONG = _("R6：授权期限不能超过本统筹区规定的%(days)s天")


WINDOW_END_REQUIRED = _("R6：本统筹区规定授权须设置结束时间（最长%(days)s天）")


# R7
SIGNATURE_NAME_MISMATCH = _("R7：签名须与主账户人登记的姓名完全一致")


LETTER_CHANGED = _("R7：承诺书内容已发生变化，请重新阅读后再签署")


NOT_THE_HOLDER = _("R7/R22：承诺书只能由主账户人本人签署")


# R8
CONSENT_NOT_PENDING = _("R8：该授权不在待确认状态")


CONSENT_LAPSED = _("R8：确认期限已过，该绑定请求已失效")


CONSENT_NOT_YOURS = _("R8/R22：只有共济成员本人或其监护人可以答复")


CONSENT_VERIFICATION_FAILED = _("R8：身份核验未通过，密码错误")


CONSENT_GUARDIAN_REQUIRED = _("R22：该成员无民事行为能力，须由监护人代为答复")


# R10
ORDER_NOT_ALLOWED = _("R10：扣款顺序由共济成员本人设置；未成年成员由其主账户人或监护人设置")


ORDER_MISMATCH = _("R10：扣款顺序须包含该成员全部有效授权，且每个授权只出现一次")


# R14 / R15
NOT_LIVE = _("R15：该授权已终止，无法再操作")


# R14: the note on what a transfer out or termination ended
STATUS_ENDED_NOTE = _("R14：参保关系转出或终止")
STATUS_UNCHANGED = _("R14：参保状态未变化")


STAFF_CHANNEL_ONLY = _("R18/R20：经办窗口和管理后台只能由经办人员办理")


# R21
MEMBERS_AT_ONCE_CAP = _("R21：本统筹区规定同时绑定的共济成员不超过%(cap)s人")


MEMBERS_LIFETIME_CAP = _("R21：本统筹区规定累计绑定的共济成员不超过%(cap)s人（同一人只计一次）")


CAP_INVALID = _("R21：单笔支付上限须为大于0、最多两位小数的金额")


# R22
GUARDIAN_SELF = _("R22：监护人不能是本人")
