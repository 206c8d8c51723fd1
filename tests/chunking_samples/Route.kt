package io.ktor.server.routing

import io.ktor.http.HttpMethod
import io.ktor.server.application.ApplicationCall

/**
 * A node in the routing tree.
 */
@KtorDsl
open class Route(
    val parent: Route?,
    val selector: RouteSelector,
) : ApplicationCallPipeline() {
    private val childList: MutableList<Route> = mutableListOf()

    val children: List<Route> get() = childList

    /** Creates a child route for [selector]. */
    fun createChild(selector: RouteSelector): Route {
        val existing = childList.firstOrNull { it.selector == selector }
        return existing ?: Route(this, selector).also { childList.add(it) }
    }

    override fun toString(): String = "Route($selector)"

    companion object {
        const val ROOT = "/"

        fun root(): Route = Route(null, RootSelector)
    }

    inner class Handle {
        fun invoke() = Unit
    }
}

interface RouteSelector {
    suspend fun evaluate(call: ApplicationCall): Boolean
}

object RootSelector : RouteSelector {
    override suspend fun evaluate(call: ApplicationCall) = true
}

data class PathSegment(val value: String)

enum class Method { GET, POST }

typealias Handler = suspend ApplicationCall.() -> Unit

fun Route.get(path: String, body: Handler): Route =
    createChild(PathSelector(path)).apply { handle(body) }

internal fun <T : Any> List<T>.second(): T = this[1]
