"""The demo gig's images, drawn with Pillow when the demo is seeded (nothing is downloaded):
one card per phase of the work, in its own colour, with a few shapes and the phase's name."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

from gigs.images import gig_image_add
from gigs.models import Gig

# (title, background, accent, description for people who cannot see it)
DEMO_IMAGES = (
    ("UI/UX design", "#1d4ed8", "#93c5fd", "Blue card titled “UI/UX design” with sketched phone screens"),
    ("Backend development", "#146c2e", "#86efac", "Green card titled “Backend development” with server blocks"),
    ("Testing", "#8a4b00", "#fcd34d", "Amber card titled “Testing” with check marks"),
    ("Final launch", "#6d28d9", "#c4b5fd", "Purple card titled “Final launch” with circles rising to the top"),
)
SIZE = (1200, 900)


def demo_picture(title: str, background: str, accent: str, number: int) -> bytes:
    picture = Image.new("RGB", SIZE, background)
    draw = ImageDraw.Draw(picture)
    # A few shapes that differ per phase, then the phase's number and name.
    for index in range(3):
        left = 120 + index * 330
        if number == 1:
            draw.rounded_rectangle((left, 330, left + 200, 740), radius=28, outline=accent, width=10)
            draw.rectangle((left + 30, 380, left + 170, 470), fill=accent)
        elif number == 2:
            draw.rectangle((left, 360 + index * 40, left + 260, 460 + index * 40), fill=accent)
            draw.ellipse((left + 200, 390 + index * 40, left + 230, 420 + index * 40), fill=background)
        elif number == 3:
            draw.line((left, 560, left + 70, 640, left + 220, 420), fill=accent, width=28, joint="curve")
        else:
            x, y = left + index * 40, 700 - index * 150
            draw.ellipse((x, y, x + 120, y + 120), fill=accent)
    font = ImageFont.load_default(size=96)
    small = ImageFont.load_default(size=48)
    draw.text((100, 90), f"Phase {number}", fill=accent, font=small)
    draw.text((100, 160), title, fill="#ffffff", font=font)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def seed_gig_images(gig: Gig) -> None:
    """The four phase cards on the demo gig, the first its cover; nothing if it has images."""
    if gig.images.exists():
        return
    for number, (title, background, accent, alt_text) in enumerate(DEMO_IMAGES, start=1):
        content = demo_picture(title, background, accent, number)
        upload = SimpleUploadedFile(f"phase-{number}.png", content, content_type="image/png")
        gig_image_add(gig=gig, seller=gig.seller, upload=upload, alt_text=alt_text)
