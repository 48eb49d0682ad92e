# Full snapshots only (show() in a loop), deletions, hide/show, clear, and
# two canvases emitted in turn.
from bai_media import Canvas, display

a = Canvas(100, 100, "black")
b = Canvas(80, 60)
dots = [a.circle(10 + 20 * i, 50, 5, fill="white") for i in range(4)]
bar = b.rect(0, 25, 0, 10, fill="green", stroke=None)
for step in range(6):
    for i, d in enumerate(dots):
        if d.deleted:
            continue
        d.move_to(10 + 20 * i, 50 + (10 if (i + step) % 2 else -10))
    if step == 2:
        dots[0].delete()
    if step == 3:
        dots[1].hide()
    if step == 4:
        dots[1].show()
    display(a)
    bar.set(w=step * 15)
    b.show()
a.clear()
a.polygon([(0, 0), (30, 0), (15, 25)], x=35, y=35, fill=(255, 0, 0, 128), rot=90)
a.update()
