{-# LANGUAGE OverloadedStrings #-}
-- | JSON values and their encoding.
module Data.Jason.Types
  ( Value (..)
  , ToJSON (..)
  , object
  ) where

import qualified Data.Map.Strict as M
import Data.Text (Text)

-- | A JSON value.
data Value
  = Object (M.Map Text Value)
  | Array [Value]
  | String Text
  | Number Double
  | Null
  deriving (Eq, Show)

newtype Parser a = Parser { runParser :: Value -> Either String a }

type Pair = (Text, Value)

-- | Types that can be encoded as JSON.
class ToJSON a where
  toJSON :: a -> Value
  toJSONList :: [a] -> Value
  toJSONList = Array . map toJSON

instance ToJSON Bool where
  toJSON True = String "true"
  toJSON False = String "false"

instance ToJSON a => ToJSON [a] where
  toJSON = toJSONList

-- | Builds an object from pairs.
object :: [Pair] -> Value
object = Object . M.fromList

-- | Looks up a key.
lookupKey :: Text -> Value -> Maybe Value
lookupKey key (Object m) = M.lookup key m
lookupKey _ _ = Nothing

isNull :: Value -> Bool
isNull Null = True
isNull _    = False

encode :: ToJSON a => a -> Text
encode value =
  case toJSON value of
    Null -> "null"
    other -> render other
  where
    render = undefined
