"""个账代缴 pages (R16). Each module lists its own URL patterns; payments/urls.py joins them."""

urlpatterns: list = []
