"""Thin views: forms validate input, services change state, selectors read."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView
from django_ratelimit.decorators import ratelimit

from . import idnumber, notices, selectors, services
from .forms import (
    ActivationCodeForm,
    ActivationForm,
    CitizenLoginForm,
    CitizenPasswordChangeForm,
)
from .models import AuditEntry, Notification
from .reauth import reauth_failed, reauth_locked, reauth_lockout, reauth_tries_left_message
from .staff import page_context

ACTIVATED = _("激活成功，欢迎使用职工医保个人账户家庭共济网上服务")
PASSWORD_CHANGED = _("密码已修改")
RATE_LIMITED = _("操作过于频繁，请稍后再试")
ALL_MARKED_READ = _("全部站内信已标为已读")

INBOX_PER_PAGE = 20


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["person"] = selectors.person_for_user(user=self.request.user)
        return context


# Activation in two steps (issue 13): step 1 checks identity number, name and phone against the
# register and sends a code to the registered phone; step 2 takes the code and a password. What
# links them is the person's public id in the session (never the identity number in a URL). Both
# steps are limited per client address, and per identity number (step 1) or person (step 2).
ACTIVATION_SESSION_KEY = "activation"
ACTIVATION_CODE_RESENT = _("新的验证码已发送至手机%(phone)s，之前的验证码已失效")
ACTIVATION_START_FIRST = _("请先填写身份证号码、姓名和手机号码，获取短信验证码")


def activation_ratelimit_key(group, request) -> str:
    """The identity number of step 1, or the person of the session in step 2 and resend."""
    number = idnumber.normalize(request.POST.get("id_number", ""))
    if number:
        return f"id:{number[:22]}"
    state = request.session.get(ACTIVATION_SESSION_KEY) or {}
    return f"person:{state.get('person', '')}"


def _activation_limits(view):
    per_address = ratelimit(key="ip", rate="20/h", method="POST", block=True)
    per_number = ratelimit(
        group="accounts.activation-identity",
        key=activation_ratelimit_key,
        rate="15/h",
        method="POST",
        block=True,
    )
    return method_decorator([per_address, per_number], name="post")(view)


class _AnonymousOnly:
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect("home")
        return super().dispatch(request, *args, **kwargs)


class _ActivationStarted:
    """Step 2 and resend: only after step 1, for the person it found; else back to step 1."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect("home")
        state = request.session.get(ACTIVATION_SESSION_KEY) or {}
        self.person = selectors.person_for_activation(public_id=state.get("person", ""))
        if self.person is None:
            request.session.pop(ACTIVATION_SESSION_KEY, None)
            messages.info(request, ACTIVATION_START_FIRST)
            return redirect("accounts:activate")
        self.masked_phone = self.person.masked_phone
        return super().dispatch(request, *args, **kwargs)


def _remember_activation(request, sent: services.PhoneCodeSent) -> None:
    request.session[ACTIVATION_SESSION_KEY] = {"person": str(sent.person.public_id)}


@_activation_limits
class ActivateView(_AnonymousOnly, FormView):
    """Step 1: identity number, name and phone."""

    template_name = "accounts/activate.html"
    form_class = ActivationForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["started"] = bool(self.request.session.get(ACTIVATION_SESSION_KEY))
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            sent = services.activation_start(
                id_number=data["id_number"], name=data["name"], phone=data["phone"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        _remember_activation(self.request, sent)
        return redirect("accounts:activate-code")


@_activation_limits
class ActivateCodeView(_ActivationStarted, FormView):
    """Step 2: the code from the SMS and the new password twice."""

    template_name = "accounts/activate_code.html"
    form_class = ActivationCodeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "name": self.person.name}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            masked_phone=self.masked_phone,
            minutes=services.CODE_VALIDITY // dt.timedelta(minutes=1),
            resend_seconds=int(services.RESEND_AFTER.total_seconds()),
            **kwargs,
        )

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            user = services.citizen_activate(
                person=self.person, code=data["code"], password=data["password1"]
            )
        except ValidationError as exc:
            code = getattr(exc, "code", None) or ""  # a list of errors has no code
            field = "code" if code.startswith("phone_code") else None
            form.add_error(field, exc)
            return self.form_invalid(form)
        self.request.session.pop(ACTIVATION_SESSION_KEY, None)
        login(self.request, user, backend="accounts.backends.IdentityNumberBackend")
        messages.success(self.request, ACTIVATED)
        return redirect("home")


@_activation_limits
class ActivateResendView(_ActivationStarted, View):
    """The resend button of step 2 (POST only); the 60 s and daily rules are the service's."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        try:
            sent = services.activation_code_send(person=self.person)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            _remember_activation(request, sent)
            messages.success(request, ACTIVATION_CODE_RESENT % {"phone": sent.masked_phone})
        return redirect("accounts:activate-code")


class CitizenLoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = CitizenLoginForm
    redirect_authenticated_user = True


class PasswordChangeView(LoginRequiredMixin, FormView):
    template_name = "accounts/password_change.html"
    form_class = CitizenPasswordChangeForm
    success_url = reverse_lazy("home")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def post(self, request, *args, **kwargs):
        # The current password asked again counts against the login lockout (issue 13 point 11).
        if reauth_locked(request, request.user):
            return reauth_lockout(request, request.user)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if form.has_error("old_password", "password_incorrect"):
            request, user = self.request, self.request.user
            if reauth_failed(request, user):
                return reauth_lockout(request, user)
            form.add_error("old_password", reauth_tries_left_message(request, user))
        return super().form_invalid(form)

    def form_valid(self, form):
        services.user_password_change(
            user=self.request.user,
            password=form.cleaned_data["new_password1"],
            channel=AuditEntry.Channel.ONLINE,
        )
        update_session_auth_hash(self.request, self.request.user)
        messages.success(self.request, PASSWORD_CHANGED)
        return super().form_valid(form)


# ---------------------------------------------------------------------------------------------
# 站内信 (issue 5)


@dataclass(frozen=True)
class InboxItem:
    """One notification as the inbox shows it: the row, its words in the reader's language and
    its link when that is a page of this site."""

    notification: Notification
    title: str
    body: str
    link: str


def _inbox_item(notification: Notification) -> InboxItem:
    title, body = notices.render(notification)
    link = notification.link
    # Links are written by our own services as site paths; anything else is not shown.
    if not (link.startswith("/") and url_has_allowed_host_and_scheme(link, allowed_hosts=None)):
        link = ""
    return InboxItem(notification=notification, title=title, body=body, link=link)


class InboxListView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/inbox_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        person = selectors.person_for_user(user=self.request.user)
        page = Paginator(selectors.notifications_for(person=person), INBOX_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        context.update(
            {
                "person": person,
                **page_context(page),
                "items": [_inbox_item(n) for n in page.object_list],
            }
        )
        return context


class InboxDetailView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/inbox_detail.html"

    def get(self, request, *args, **kwargs):
        notification = selectors.notification_get_for_user(
            user=request.user, public_id=kwargs["public_id"]
        )
        # Opening the message marks it read, on GET: read_at is the reader's own view state (as
        # in any mail client), not a business change, and only the recipient gets this far (the
        # selector answers 404 to anyone else and marks nothing).
        if notification.read_at is None:
            services.notification_mark_read(notification=notification)
        return self.render_to_response(self.get_context_data(item=_inbox_item(notification)))


class InboxMarkAllReadView(LoginRequiredMixin, View):
    """POST only (a form with the CSRF token); a GET answers 405."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        person = selectors.person_for_user(user=request.user)
        if person is not None:
            services.notifications_mark_all_read(person=person)
        messages.success(request, ALL_MARKED_READ)
        return redirect("accounts:inbox")


def ratelimited(request, exception):
    """django-ratelimit's view for a blocked request (RATELIMIT_VIEW)."""
    return render(request, "429.html", {"message": RATE_LIMITED}, status=429)


SERVER_ERROR = _("系统出现错误，您的操作未完成。请稍后重试；如多次出现，请拨打医保服务热线。")
DATABASE_UNAVAILABLE = _("系统正在维护或网络不稳定，您的操作未完成，请稍后重试。")


def server_error(request):
    """handler500. A database that went away mid-request (restart, failover, a killed
    connection) is a 503 "try again": the database rolled the request's transaction back, and
    the next request reconnects (CONN_HEALTH_CHECKS). Anything else is a 500. The page reads
    nothing from the database (it may be what failed) and needs no request context."""
    error = sys.exc_info()[1]
    unavailable = isinstance(error, OperationalError | InterfaceError)
    status = 503 if unavailable else 500
    body = loader.get_template("error_page.html").render(
        {"message": DATABASE_UNAVAILABLE if unavailable else SERVER_ERROR, "status": status}
    )
    response = HttpResponse(body, status=status)
    if unavailable:
        response["Retry-After"] = "5"
    return response
