"""Thin views: forms validate input, services change state, selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, TemplateView
from django_ratelimit.decorators import ratelimit

from . import selectors, services
from .forms import ActivationForm, CitizenLoginForm, CitizenPasswordChangeForm
from .models import AuditEntry

ACTIVATED = _("激活成功，欢迎使用职工医保个人账户家庭共济网上服务")
PASSWORD_CHANGED = _("密码已修改")
RATE_LIMITED = _("操作过于频繁，请稍后再试")


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["person"] = selectors.person_for_user(user=self.request.user)
        return context


@method_decorator(ratelimit(key="ip", rate="20/h", method="POST", block=True), name="post")
class ActivateView(FormView):
    template_name = "accounts/activate.html"
    form_class = ActivationForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect("home")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            user = services.citizen_activate(
                id_number=data["id_number"],
                name=data["name"],
                phone=data["phone"],
                password=data["password1"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        login(self.request, user, backend="accounts.backends.IdentityNumberBackend")
        messages.success(self.request, ACTIVATED)
        return redirect("home")


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

    def form_valid(self, form):
        services.user_password_change(
            user=self.request.user,
            password=form.cleaned_data["new_password1"],
            channel=AuditEntry.Channel.ONLINE,
        )
        update_session_auth_hash(self.request, self.request.user)
        messages.success(self.request, PASSWORD_CHANGED)
        return super().form_valid(form)


def ratelimited(request, exception):
    """django-ratelimit's view for a blocked request (RATELIMIT_VIEW)."""
    return render(request, "429.html", {"message": RATE_LIMITED}, status=429)
