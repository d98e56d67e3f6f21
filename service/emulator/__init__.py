"""A local Stripe emulator for tests and the offline demo (never imported by production code)."""

from .app import EMULATOR, create_emulator_app
from .config import DeliveryKnobs, EmulatorConfig
from .runner import RunningEmulator, serve_emulator, start_emulator
from .state import Emulator

__all__ = [
    "EMULATOR",
    "DeliveryKnobs",
    "Emulator",
    "EmulatorConfig",
    "RunningEmulator",
    "create_emulator_app",
    "serve_emulator",
    "start_emulator",
]
