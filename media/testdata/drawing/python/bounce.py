# A ball bouncing in a box, a counter and a colour change: Canvas diffs.
from bai_media import Canvas

c = Canvas(240, 160, "white")
c.rect(0, 0, 240, 160, stroke="gray", lw=4)
ball = c.circle(20, 20, 10, fill="red")
label = c.text(120, 150, "frame 0", size=12, align="center")
c.show()
vx, vy = 9, 6
for i in range(1, 40):
    x, y = ball["x"] + vx, ball["y"] + vy
    if not 10 <= x <= 230:
        vx = -vx
    if not 10 <= y <= 150:
        vy = -vy
    ball.move(vx, vy)
    label.set(text="frame %d" % i)
    if i == 20:
        ball.fill((0, 0, 255, 0.5))
        c.set_bgcolor("#ffe")
    c.update()
