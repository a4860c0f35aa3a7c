"""The first Theano tutorial program, with only its imports changed."""
import mlc.compiler as theano
import mlc.compiler.tensor as T

x = T.scalar('x')
y = T.scalar('y')
z = x + y
add = theano.function([x, y], z)
print(add(2, 3))
