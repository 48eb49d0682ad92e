# An animated turtle: a star, a circle, a dot and text, moved step by step.
from bai_media import Turtle

t = Turtle(animate=True)
t.pencolor("blue").pensize(2)
for _ in range(5):
    t.forward(120).right(144)
t.penup().goto(-100, -120).pendown()
t.pencolor((0, 128, 0)).circle(40, steps=24)
t.dot(10, "orange")
t.penup().goto(0, 150)
t.write("star & <circle>", size=16, align="center")
t.hideturtle()
t.canvas.update()
