from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("interrupts/<int:pk>/", views.interrupt_detail, name="interrupt"),
    path("interrupts/<int:pk>/answer/", views.interrupt_answer, name="answer"),
]
