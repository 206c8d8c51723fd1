package cats
package data

import cats.syntax.all._

/** A non-empty list: a head and a tail. */
final case class NonEmptyList[+A](head: A, tail: List[A]) {

  def toList: List[A] = head :: tail

  def map[B](f: A => B): NonEmptyList[B] =
    NonEmptyList(f(head), tail.map(f))

  def ++[AA >: A](other: NonEmptyList[AA]): NonEmptyList[AA] =
    NonEmptyList(head, tail ::: other.toList)
}

object NonEmptyList extends NonEmptyListInstances {

  def of[A](head: A, tail: A*): NonEmptyList[A] = NonEmptyList(head, tail.toList)

  def fromList[A](list: List[A]): Option[NonEmptyList[A]] =
    list match {
      case head :: tail => Some(NonEmptyList(head, tail))
      case Nil          => None
    }

  given [A]: Semigroup[NonEmptyList[A]] with
    def combine(x: NonEmptyList[A], y: NonEmptyList[A]): NonEmptyList[A] = x ++ y
}

/** Functor laws as a type class. */
trait Functor[F[_]] {
  def map[A, B](fa: F[A])(f: A => B): F[B]

  def void[A](fa: F[A]): F[Unit] = map(fa)(_ => ())
}

sealed abstract class Validated[+E, +A] extends Product with Serializable

enum Ior[+A, +B]:
  case Left(a: A)
  case Right(b: B)
  case Both(a: A, b: B)

extension [A](list: List[A])
  def toNel: Option[NonEmptyList[A]] = NonEmptyList.fromList(list)

type ValidatedNel[+E, +A] = Validated[NonEmptyList[E], A]

def traverse[F[_]: Applicative, A, B](as: List[A])(f: A => F[B]): F[List[B]] =
  as.foldRight(Applicative[F].pure(List.empty[B]))((a, acc) => f(a).map2(acc)(_ :: _))
